"""What timing the pool's checkouts costs: one checkout and return of a warm connection.

Pools over one SQLite file, each handing out its one idle connection and taking it back, with
no reset on return, so the figures are the pool's own work and nothing of the driver's; rounds
interleaved, the best of each kept:

- ``sqlalchemy``: the engine's own `AsyncAdaptedQueuePool`, as `create_async_engine` builds it,
  with the checkout event every `Database` adds (`FaultWatch`): the baseline;
- ``unwatched``: a `Database`'s pool with no listener (the wrapper's early return);
- ``metrics``: a `Database` tracked by `Metrics` (the wait histogram);
- ``multiprocess``: the same under ``PROMETHEUS_MULTIPROC_DIR`` (the wait histogram and the four
  pool gauges written on checkout and on return), run in a child process with the variable set.

Run: ``uv run --group bench python bench/pool_checkout.py [--count 20000] [--rounds 15]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from fastapi_pro.db import Database
from fastapi_pro.db._faults import FaultWatch
from fastapi_pro.observability import Metrics

NO_RESET = {"pool_reset_on_return": None}


def checkouts(engine: AsyncEngine, count: int) -> Callable[[], float]:
    pool = engine.sync_engine.pool

    def run() -> float:
        started = time.perf_counter()
        for _ in range(count):
            pool.connect().close()
        return (time.perf_counter() - started) / count * 1e6

    return run


async def measure(engines: dict[str, AsyncEngine], count: int, rounds: int) -> dict[str, float]:
    """The best µs per checkout of each engine's pool, over rounds interleaved between them."""
    runs = {}
    for name, engine in engines.items():
        async with engine.connect():  # open the connection once: every checkout finds it idle
            pass
        runs[name] = checkouts(engine, count)
    figures: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, run in runs.items():
            figures[name].append(await greenlet_spawn(run))
    for engine in engines.values():
        await engine.dispose()
    return {name: min(values) for name, values in figures.items()}


def _baseline(url: str) -> AsyncEngine:
    """SQLAlchemy's own pool with the checkout event every `Database` has (FaultWatch)."""
    engine = create_async_engine(url, **NO_RESET)  # type: ignore[arg-type]
    FaultWatch(engine)
    return engine


def _tracked(url: str, metrics: Metrics) -> AsyncEngine:
    database = Database(url, engine_options=NO_RESET)
    metrics.track_database(database)
    return database.engine


async def in_process(url: str, count: int, rounds: int) -> dict[str, float]:
    return await measure(
        {
            "sqlalchemy": _baseline(url),
            "unwatched": Database(url, engine_options=NO_RESET).engine,
            "metrics": _tracked(url, Metrics()),
        },
        count,
        rounds,
    )


async def multiprocess(url: str, directory: str, count: int, rounds: int) -> dict[str, float]:
    return await measure(
        {
            "sqlalchemy": _baseline(url),
            "multiprocess": _tracked(url, Metrics(multiprocess_dir=directory)),
        },
        count,
        rounds,
    )


def _table(figures: dict[str, float]) -> None:
    base = figures["sqlalchemy"]
    for name, figure in figures.items():
        print(f"{name:<14}{figure:>12.3f}{figure - base:>10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--multiprocess-child", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        if args.multiprocess_child is not None:
            _table(asyncio.run(multiprocess(url, args.multiprocess_child, args.count, args.rounds)))
            return
        print(f"{'pool':<14}{'µs/checkout':>12}{'added µs':>10}")
        _table(asyncio.run(in_process(url, args.count, args.rounds)))
        print("under PROMETHEUS_MULTIPROC_DIR:")
        _run_child(Path(scratch) / "prometheus", args.count, args.rounds)


def _run_child(directory: Path, count: int, rounds: int) -> None:
    """This script again, with multiprocess mode on from the start as prometheus-client needs."""
    directory.mkdir()
    child = [sys.executable, __file__, "--count", str(count), "--rounds", str(rounds)]
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run(  # noqa: S603 - this very script, with fixed arguments
        [*child, "--multiprocess-child", str(directory)], env=environment, check=True
    )


if __name__ == "__main__":
    main()
