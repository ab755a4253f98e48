"""Exactness across processes: two uvicorn workers sharing one Redis admit exactly the limit.

A real ``uvicorn --workers 2`` serves `tests.ratelimit.workers_app` (configured by `setup` from
``FASTAPI_PRO_REDIS__*``), and the test fires many more concurrent requests than the limit over
several connections, so both workers count against the same Redis keys at once. Each check is
one atomic script in Redis (acquire and count together), so whichever worker serves a request,
exactly the limit is admitted and every other request gets a 429 with ``Retry-After`` and the
``RateLimit`` fields. The bursts take a few seconds, well inside the minute windows, which all
start with the burst's first request (on Redis, ``limits`` starts fixed and sliding-window
counters at the first hit, not on the clock's minute).

Exactness holds for checks Redis answers within ``ratelimit.timeout``: a slower check fails
open by default, letting its request through whether Redis counted it or not. On a loaded
machine the default 0.25 s is too short for a 200-request burst, so the app here waits up to
10 s and fails closed, which would show a slow check as a 503 rather than a 200 too many.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RedisKeys
from tests.ratelimit.workers_app import LIMIT, STRATEGIES
from tests.servers import Server, serve

pytestmark = pytest.mark.redis

ROOT = Path(__file__).parents[2]
REQUESTS = 200
CONNECTIONS = 20


@pytest.fixture
def server(redis_keys: RedisKeys, tmp_path: Path) -> Iterator[Server]:
    """The app under two uvicorn workers, its counters under the test's Redis prefix."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTAPI_PRO_")}
    environ |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")]),
        "FASTAPI_PRO_REDIS__URL": redis_keys.url,
        "FASTAPI_PRO_REDIS__KEY_PREFIX": redis_keys.prefix,
        # A check slower than the timeout is let through uncounted by default (fail open):
        # on a loaded machine a burst has some, so give Redis time, and refuse if it has none.
        "FASTAPI_PRO_RATELIMIT__TIMEOUT": "10",
        "FASTAPI_PRO_RATELIMIT__FAIL_OPEN": "false",
    }
    factory = ["--factory", "tests.ratelimit.workers_app:create", "--workers", "2"]
    with serve(factory, cwd=tmp_path, env=environ, ready="/pid") as served:
        yield served


async def burst(server: Server, path: str) -> list[httpx.Response]:
    """``REQUESTS`` requests at once, over ``CONNECTIONS`` kept-alive connections, half of them
    to each worker (a worker accepting every connection of a burst at once is what the kernel
    otherwise often does)."""
    async with contextlib.AsyncExitStack() as stack:
        connections = await connections_to_both_workers(server, stack)
        return await asyncio.gather(
            *(connections[n % CONNECTIONS].get(path) for n in range(REQUESTS))
        )


async def connections_to_both_workers(
    server: Server, stack: contextlib.AsyncExitStack
) -> list[httpx.AsyncClient]:
    """``CONNECTIONS`` one-connection clients, half of them served by each worker."""
    per_worker: dict[int, list[httpx.AsyncClient]] = {}
    deadline = time.monotonic() + 30
    while sum(map(len, per_worker.values())) < CONNECTIONS and time.monotonic() < deadline:
        client = httpx.AsyncClient(base_url=server.url, limits=httpx.Limits(max_connections=1))
        await stack.enter_async_context(client)
        worker = (await client.get("/pid")).json()["pid"]
        clients = per_worker.setdefault(worker, [])
        if len(clients) < CONNECTIONS // 2:
            clients.append(client)
    assert len(per_worker) == 2, f"connections reached only {set(per_worker)}"
    return [client for clients in per_worker.values() for client in clients]


async def test_two_workers_admit_exactly_the_limit(server: Server) -> None:
    # One server for the three strategies: each has a route, so a burst of its own.
    for strategy in STRATEGIES:
        check_burst(await burst(server, f"/limited/{strategy}"), strategy)


def check_burst(answers: list[httpx.Response], strategy: str) -> None:
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}, strategy
    # Each worker served half the burst: alone, each would have admitted the whole limit.
    served = Counter(answer.headers["X-Worker"] for answer in answers)
    assert sorted(served.values()) == [REQUESTS // 2] * 2, (strategy, served)
    admitted = [answer for answer in answers if answer.status_code == 200]
    assert {str(answer.json()["pid"]) for answer in admitted} <= set(served)
    policy = f'"{LIMIT}-per-minute";q={LIMIT};w=60'
    for answer in answers:
        assert answer.headers["RateLimit-Policy"] == policy, strategy
        assert answer.headers["RateLimit"].startswith(f'"{LIMIT}-per-minute";r='), strategy
    for answer in (answer for answer in answers if answer.status_code == 429):
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60, strategy
        assert answer.headers["RateLimit"].startswith(f'"{LIMIT}-per-minute";r=0;'), strategy
