"""Per-test cost of the plugin's isolated database session, against recreating the tables.

Run: ``uv run --group bench python bench/plugin.py [--rounds 7] [--tests 200]``.

Target: the isolated session costs at most 5 ms per test on PostgreSQL (asyncpg).

Two measurements, both on a scratch PostgreSQL database (``fastapi_pro_bench_plugin``, created
at the start and dropped at the end) holding an eight-table schema with foreign keys and
indexes, the size of a small service:

1. In one process, the per-test database work of each strategy, set-up plus tear-down, around
   the same test body (one INSERT through the app's session, committed, and one SELECT through
   the test's session):

   - ``isolated``: what the plugin does for each test: check a connection out of the pool,
     BEGIN, bind the sessions to it with savepoints, and ROLLBACK at the end
     (`fastapi_pro.testing.isolated`);
   - ``recreate``: what hand-written conftests often do instead: ``drop_all`` and
     ``create_all`` before every test, the body committing for real.

2. Through pytest itself: a generated project of ``--tests`` tests run by ``pytest`` in a fresh
   process with the plugin configured, once with tests that ask for ``fastapi_session`` and
   ``fastapi_client`` (and do the same body) and once with tests that do the same body on a
   session of their own without isolation; the difference in wall time, divided by the number
   of tests, is what the plugin's fixtures add per test. Process start-up cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import asyncpg
from sqlalchemy import ForeignKey, Integer, MetaData, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fastapi_pro.db import Database
from fastapi_pro.testing import isolated

DB_NAME = "fastapi_pro_bench_plugin"


class Model(DeclarativeBase):
    metadata = MetaData()


def _tables() -> type[Model]:
    previous: type[Model] | None = None
    first: type[Model] | None = None
    for index in range(8):
        attributes: dict[str, object] = {
            "__tablename__": f"bench_table_{index}",
            "id": mapped_column(Integer, primary_key=True),
            "name": mapped_column(String(100), index=True),
            "code": mapped_column(String(20), unique=True),
            "__annotations__": {"id": Mapped[int], "name": Mapped[str], "code": Mapped[str]},
        }
        if previous is not None:
            attributes["parent_id"] = mapped_column(
                ForeignKey(f"{previous.__tablename__}.id"), nullable=True, index=True
            )
            attributes["__annotations__"]["parent_id"] = Mapped[int | None]  # type: ignore[index]
        model = type(f"BenchTable{index}", (Model,), attributes)
        first = first or model
        previous = model
    assert first is not None
    return first


Row = _tables()


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def body(database: Database, n: int) -> None:
    async with database.session() as session:  # the app's request: commits
        session.add(Row(name=f"row {n}", code=f"c{n}"))
    async with database.sessionmaker() as session:  # the test's own check
        assert await session.scalar(select(func.count()).select_from(Row)) >= 1


async def per_test_isolated(database: Database, n: int) -> None:
    async with isolated(database):
        await body(database, n)


async def per_test_recreate(database: Database, n: int) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(Model.metadata.drop_all)
        await connection.run_sync(Model.metadata.create_all)
    await body(database, n)


async def in_process(url: str, rounds: int, per_round: int) -> dict[str, list[float]]:
    database = Database(url, pool_pre_ping=True)
    await database.create_all(Model.metadata)
    results: dict[str, list[float]] = {"isolated": [], "recreate": [], "body only": []}
    strategies = {
        "isolated": per_test_isolated,
        "recreate": per_test_recreate,
        "body only": body,
    }
    counter = 0
    for strategy in strategies.values():  # warm up pools and statement caches
        for _ in range(5):
            counter += 1
            await strategy(database, counter)
    for _ in range(rounds):
        for name, strategy in strategies.items():
            async with database.engine.begin() as connection:  # same starting state
                await connection.run_sync(Model.metadata.drop_all)
                await connection.run_sync(Model.metadata.create_all)
            start = time.perf_counter()
            for _ in range(per_round):
                counter += 1
                await strategy(database, counter)
            results[name].append((time.perf_counter() - start) / per_round * 1000)
    await database.dispose()
    return results


APP = """
from fastapi import FastAPI
from fastapi_pro import Settings
from fastapi_pro.db import Database, SessionDep
from bench_models import Row


def create_app():
    database = Database.from_settings(Settings().database)
    app = FastAPI(lifespan=database.lifespan)

    @app.post("/rows/{n}", status_code=201)
    async def add(n: int, session: SessionDep) -> None:
        session.add(Row(name=f"row {n}", code=f"c{n}"))

    return app
"""

ISOLATED_TESTS = """
import pytest
from sqlalchemy import func, select
from bench_models import Row


@pytest.mark.parametrize("n", range({tests}))
async def test_row(n, fastapi_client, fastapi_session):
    assert (await fastapi_client.post(f"/rows/{{n}}")).status_code == 201
    assert await fastapi_session.scalar(select(func.count()).select_from(Row)) == 1
"""

PLAIN_TESTS = """
import httpx
import pytest
from sqlalchemy import func, select
from fastapi_pro.testing import served_app
from bench_models import Row


@pytest.mark.parametrize("n", range({tests}))
async def test_row(n, fastapi_app, fastapi_database):
    transport = httpx.ASGITransport(app=served_app(fastapi_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post(f"/rows/{{n}}")).status_code == 201
    async with fastapi_database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Row)) >= 1
"""


def through_pytest(url: str, tests: int, rounds: int) -> dict[str, list[float]]:
    models = Path(__file__).read_text().split("class Model", 1)[1].split("async def _admin")[0]
    header = (
        "from sqlalchemy import ForeignKey, Integer, MetaData, String\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\nclass Model"
    )
    results: dict[str, list[float]] = {"isolated": [], "plain": []}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "bench_models.py").write_text(header + models)
        (root / "bench_app.py").write_text(APP)
        (root / "pyproject.toml").write_text(
            textwrap.dedent(
                """
                [tool.pytest.ini_options]
                fastapi_pro_app = "bench_app:create_app"
                fastapi_pro_metadata = "bench_models:Model.metadata"
                asyncio_mode = "auto"
                asyncio_default_fixture_loop_scope = "function"
                """
            )
        )
        env = {**os.environ, "FASTAPI_PRO_TEST_DATABASE_URL": url}
        for _ in range(rounds):
            for name, source in (("isolated", ISOLATED_TESTS), ("plain", PLAIN_TESTS)):
                test_file = root / "test_rows.py"
                test_file.write_text(source.format(tests=tests))
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
                    cwd=root,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                results[name].append((time.perf_counter() - start) * 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=40)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "FASTAPI_PRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    server = args.postgres_url.rsplit("/", 1)[0]
    url = f"{server}/{DB_NAME}".replace("postgresql://", "postgresql+asyncpg://", 1)
    asyncio.run(_admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    asyncio.run(_admin(args.postgres_url, f'CREATE DATABASE "{DB_NAME}"'))
    try:
        timings = asyncio.run(in_process(url, args.rounds, args.per_round))
        print(f"In one process, ms per test (median of {args.rounds} rounds, range):")
        for name, values in timings.items():
            low, high = min(values), max(values)
            print(f"  {name:10} {statistics.median(values):7.2f}  ({low:.2f}-{high:.2f})")
        body_ms = statistics.median(timings["body only"])
        for name in ("isolated", "recreate"):
            extra = statistics.median(timings[name]) - body_ms
            print(f"  {name} adds {extra:.2f} ms per test to the body")
        runs = through_pytest(url, args.tests, max(3, args.rounds // 2))
        isolated_ms = statistics.median(runs["isolated"])
        plain_ms = statistics.median(runs["plain"])
        print(f"Through pytest, {args.tests} tests, wall ms (median): ", end="")
        print(f"with the plugin's isolation {isolated_ms:.0f}, without {plain_ms:.0f}")
        print(
            f"  the plugin's fixtures add {(isolated_ms - plain_ms) / args.tests:.2f} ms per test"
        )
    finally:
        asyncio.run(_admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
