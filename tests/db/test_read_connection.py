"""`Database.read()` and `ReadConnectionDep`: Core reads on a pooled connection, no session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, insert, select, text

from fastapi_pro.db import Database, DatabaseUnavailableError, ReadConnectionDep
from fastapi_pro.errors import install_error_handlers
from tests.db.models import Product
from tests.servers import free_port


def make_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)

    @app.get("/skus")
    async def skus(read: ReadConnectionDep) -> dict[str, Any]:
        found = await read.scalars(select(Product.sku).order_by(Product.sku))
        return {"skus": list(found)}

    @app.post("/through-the-read-connection")
    async def write(read: ReadConnectionDep) -> int:
        await read.execute(insert(Product), [{"sku": "kept?", "name": "k", "price": 1}])
        return int(await read.scalar(select(func.count()).select_from(Product)) or 0)

    @app.get("/malformed")
    async def malformed(read: ReadConnectionDep) -> int:
        return int(await read.scalar(text("SELECT CAST('abc' AS integer)")) or 0)

    @app.get("/slow")
    async def slow(read: ReadConnectionDep) -> None:
        await read.scalar(select(func.count()).select_from(Product))
        await asyncio.sleep(30)

    return app


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with db.session() as session:
        await session.execute(
            insert(Product), [{"sku": s, "name": s, "price": 1} for s in ("b-2", "a-1")]
        )
    app = make_app(db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def checked_out(db: Database) -> int:
    pool: Any = db.engine.pool
    return int(pool.checkedout())


async def test_reads_run_core_statements_and_release_the_connection(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.get("/skus")
    assert response.status_code == 200
    assert response.json()["skus"] == ["a-1", "b-2"]
    assert checked_out(db) == 0


async def test_nothing_written_through_it_stays(client: httpx.AsyncClient, db: Database) -> None:
    response = await client.post("/through-the-read-connection")
    assert response.json() == 3  # seen inside its own transaction
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Product)) == 2


async def test_database_errors_become_problems_and_the_connection_returns(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.get("/malformed")
    if db.dialect == "postgresql":  # SQLite casts 'abc' to 0
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_value"
    assert checked_out(db) == 0


async def test_a_cancelled_read_returns_its_connection(
    client: httpx.AsyncClient, db: Database
) -> None:
    request = asyncio.ensure_future(client.get("/slow"))
    for _ in range(500):  # until the endpoint holds its connection
        if checked_out(db):
            break
        await asyncio.sleep(0.01)
    assert checked_out(db) == 1
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    for _ in range(100):
        if checked_out(db) == 0:
            break
        await asyncio.sleep(0.01)
    assert checked_out(db) == 0


async def test_operations_document_the_problems_of_a_read(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/skus"]["get"]
    assert "503" in operation["responses"]


async def test_reads_join_the_connection_a_test_bound_the_sessions_to(db: Database) -> None:
    async with db.engine.connect() as connection:
        await connection.begin()
        await connection.execute(insert(Product), [{"sku": "uncommitted", "name": "u", "price": 1}])
        db.sessionmaker.configure(bind=connection)
        try:
            async with db.read() as read:
                assert read is connection
                assert await read.scalar(select(Product.sku)) == "uncommitted"
        finally:
            db.sessionmaker.configure(bind=db.engine)
            await connection.rollback()


async def test_a_refused_database_is_a_503_at_checkout() -> None:
    db = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/none", connect_timeout=1.0)
    with pytest.raises(DatabaseUnavailableError):
        async with db.read():
            pass
    await db.dispose()
