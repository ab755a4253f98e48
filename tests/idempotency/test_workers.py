"""Two uvicorn worker processes on one PostgreSQL database: duplicates still create one order.

The duplicates of a burst are spread over connections to both workers, so two processes (each
with its own pool) look the key up at once; the advisory lock and the record's primary key
decide, not anything held in a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fastapi_pro.db import Database
from tests.idempotency.app import Models
from tests.idempotency.test_idempotency import BODY, counts, keyed, replayed
from tests.ratelimit.test_workers import CONNECTIONS, connections_to_both_workers
from tests.servers import Server, serve

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).parents[2]
DUPLICATES = 50


@pytest.fixture
async def pg(postgres_database: str) -> AsyncIterator[Database]:
    database = Database(postgres_database)
    async with database.engine.begin() as connection:
        await connection.run_sync(Models.metadata.drop_all)
        await connection.run_sync(Models.metadata.create_all)
    yield database
    async with database.engine.begin() as connection:
        await connection.run_sync(Models.metadata.drop_all)
    await database.dispose()


@pytest.fixture
def server(pg: Database, postgres_database: str, tmp_path: Path) -> Iterator[Server]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTAPI_PRO_")}
    environ |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")]),
        "FASTAPI_PRO_DATABASE__URL": postgres_database,
    }
    factory = ["--factory", "tests.idempotency.workers_app:create", "--workers", "2"]
    with serve(factory, cwd=tmp_path, env=environ, ready="/pid") as served:
        yield served


async def test_two_workers_create_one_order_for_a_burst_of_duplicates(
    server: Server, pg: Database
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        clients = await connections_to_both_workers(server, stack)
        answers = await asyncio.gather(
            *(
                clients[n % CONNECTIONS].post("/orders", json=BODY, headers=keyed("w"))
                for n in range(DUPLICATES)
            )
        )
        retry = await clients[0].post("/orders", json=BODY, headers=keyed("w"))
    originals = [a for a in answers if a.status_code == 201 and not replayed(a)]
    others = [a for a in answers if a.status_code == 409 or replayed(a)]
    assert len(originals) == 1
    assert len(others) == DUPLICATES - 1
    assert replayed(retry)
    assert retry.content == originals[0].content
    assert await counts(pg) == (1, 1)
