from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from fastapi_pro.db import Database
from tests.idempotency.app import Models, build


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=10, max_overflow=0, pool_timeout=30)
    async with database.engine.begin() as connection:
        await connection.run_sync(Models.metadata.drop_all)
        await connection.run_sync(Models.metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = build(db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
