from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from fastapi_pro.auth._redis_store import RedisTokenStore
from fastapi_pro.auth._sql_store import SqlTokenStore
from fastapi_pro.auth._store import InMemoryTokenStore, TokenStore
from fastapi_pro.db import Database
from tests.conftest import RedisKeys

# -- token stores --------------------------------------------------------------------------------

RedisTokenStoreFactory = Callable[..., RedisTokenStore]
"""Makes a `RedisTokenStore` on a client of its own; every store of a test shares one prefix."""

SQL_TOKEN_STORE_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
TOKEN_STORE_BACKENDS = [
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    *SQL_TOKEN_STORE_BACKENDS,
]


def _sql_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture(params=SQL_TOKEN_STORE_BACKENDS)
def sql_token_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database for `SqlTokenStore`s, on SQLite and on PostgreSQL."""
    return _sql_url(request, request.param, tmp_path)


@pytest.fixture
async def sql_token_store_databases(
    sql_token_store_url: str,
) -> AsyncIterator[Callable[[], Database]]:
    """Makes `Database`s (engines of their own) on one database holding fresh store tables."""
    databases: list[Database] = []

    def make() -> Database:
        database = Database(sql_token_store_url, pool_size=10)
        databases.append(database)
        return database

    first = make()
    async with first.engine.begin() as connection:
        await connection.run_sync(SqlTokenStore.metadata.drop_all)
        await connection.run_sync(SqlTokenStore.metadata.create_all)
    yield make
    for database in databases:
        await database.dispose()


@asynccontextmanager
async def _redis_token_stores(keys: RedisKeys) -> AsyncIterator[RedisTokenStoreFactory]:
    clients: list[Redis] = []

    def make(**client_options: Any) -> RedisTokenStore:
        client = Redis.from_url(keys.url, **client_options)
        clients.append(client)
        return RedisTokenStore(client, prefix=keys.prefix)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
async def redis_token_stores(redis_keys: RedisKeys) -> AsyncIterator[RedisTokenStoreFactory]:
    """Makes `RedisTokenStore`s on separate clients sharing the test's prefix (`redis_keys`)."""
    async with _redis_token_stores(redis_keys) as make:
        yield make


@pytest.fixture(params=TOKEN_STORE_BACKENDS)
def token_store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Which store `token_store` builds, and where its server is."""
    backend: str = request.param
    if backend == "memory":
        return backend, ""
    if backend == "redis":
        return backend, request.getfixturevalue("redis_keys").url
    return backend, _sql_url(request, backend, tmp_path)


@pytest.fixture
async def token_store(
    request: pytest.FixtureRequest, token_store_backend: tuple[str, str]
) -> AsyncIterator[TokenStore]:
    """An empty `TokenStore` of each kind: in memory, in Redis, in SQLite and in PostgreSQL."""
    backend, url = token_store_backend
    if backend == "memory":
        yield InMemoryTokenStore()
    elif backend == "redis":
        async with _redis_token_stores(request.getfixturevalue("redis_keys")) as make:
            yield make()
    else:
        database = Database(url, pool_size=10)
        async with database.engine.begin() as connection:
            await connection.run_sync(SqlTokenStore.metadata.drop_all)
        store = SqlTokenStore(database)
        await store.create_tables()
        yield store
        await database.dispose()
