"""The test database: its URL, a scratch PostgreSQL database per worker, schema and isolation."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from fastapi_pro.db import Database, async_url
from fastapi_pro.testing._extras import require

_SAFE_NAME = re.compile(r"[^a-z0-9_]")


def worker_database_name(base: str, worker: str) -> str:
    """The scratch database of one pytest-xdist worker: ``<base>_<worker>``."""
    return _SAFE_NAME.sub("_", f"{base}_{worker}".lower())[:63]


async def _admin(url: URL, *statements: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def create_worker_database(url: URL, worker: str) -> URL:
    """Create (again) the scratch PostgreSQL database of ``worker`` and return its URL."""
    require("asyncpg")
    name = worker_database_name(url.database or "test", worker)
    await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return url.set(database=name)


async def drop_worker_database(url: URL, worker_url: URL) -> None:
    """Drop a database made by `create_worker_database`."""
    await _admin(url, f'DROP DATABASE IF EXISTS "{worker_url.database}" WITH (FORCE)')


def _sqlite_copy(url: URL, worker: str) -> URL:
    """``url``'s SQLite file, renamed for ``worker`` (``test.db``: ``test_gw0.db``)."""
    if not url.database or url.database == ":memory:":
        return url  # an in-memory database is each worker's own already
    path = Path(url.database)
    return url.set(database=str(path.with_name(f"{path.stem}_{worker}{path.suffix}")))


@asynccontextmanager
async def worker_database(configured: str | URL, worker: str | None) -> AsyncGenerator[URL]:
    """The database of one pytest-xdist ``worker`` (None: not under xdist) at ``configured``.

    On PostgreSQL, a scratch database made for the block and dropped after it; on SQLite, a
    file of the worker's own; else the configured one. URLs use the async drivers.
    """
    url = async_url(configured)
    backend = url.get_backend_name()
    if worker is None or backend not in {"postgresql", "sqlite"}:
        yield url
    elif backend == "sqlite":
        yield _sqlite_copy(url, worker)
    else:
        worker_url = await create_worker_database(url, worker)
        try:
            yield worker_url
        finally:
            await drop_worker_database(url, worker_url)


async def reset_schema(url: str | URL, metadata: Any) -> None:
    """Drop and create every table of ``metadata`` in the database at ``url``."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "postgresql":
        require("asyncpg")
    engine = create_async_engine(parsed, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
    finally:
        await engine.dispose()


def registered_database(app: Any) -> Database | None:
    """The `Database` whose lifespan registered it on ``app``, if any."""
    try:
        return Database.of(app)
    except RuntimeError:  # no database lifespan ran for this app
        return None


def _begin_sqlite(connection: Any) -> None:
    # pysqlite/aiosqlite open transactions lazily and would turn the first SAVEPOINT into the
    # outermost transaction (whose RELEASE commits): run in driver autocommit and emit BEGIN.
    connection.exec_driver_sql("BEGIN")


@asynccontextmanager
async def isolated(database: Database) -> AsyncGenerator[AsyncConnection]:
    """Bind every session of ``database`` to one connection whose transaction is rolled back.

    Sessions join the outer transaction through savepoints
    (``join_transaction_mode="create_savepoint"``), so code that commits or rolls back keeps
    working, and nothing it wrote outlives the block. Sessions opened inside the block must be
    used one at a time: they share a connection.

    Example:
        ```python
        async with isolated(db):
            async with db.session() as session:  # commits a savepoint
                session.add(Note(title="draft"))
        # the note is gone
        ```
    """
    factory = database.sessionmaker
    saved = dict(factory.kw)
    async with database.engine.connect() as connection:
        sqlite = database.dialect == "sqlite"
        if sqlite:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            event.listen(connection.sync_connection, "begin", _begin_sqlite)
        transaction = await connection.begin()
        factory.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield connection
        finally:
            factory.kw = saved
            if transaction.is_active:
                await transaction.rollback()
            if sqlite:
                event.remove(connection.sync_connection, "begin", _begin_sqlite)
