"""Fixtures of the test database: its URL, the app's `Database`, the rolled-back transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from fastapi_pro.testing import _options

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from fastapi_pro.db import Database
    from fastapi_pro.testing._capture import QueryCounter


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fastapi_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The test database's URL.

    ``--fastapi-pro-database-url``, ``$FASTAPI_PRO_TEST_DATABASE_URL`` or the
    ``fastapi_pro_database_url`` ini option; a temporary SQLite file when none is set.
    Under pytest-xdist, each worker gets its own PostgreSQL database, created for the run
    and dropped after it.
    """
    from fastapi_pro.testing._database import worker_database  # noqa: PLC0415 - kept cheap

    configured = _options.database_url(request.config)
    if configured is None:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fastapi-pro-db') / 'test.db'}"
        return
    async with worker_database(configured, _options.worker(request.config)) as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture
def fastapi_database(fastapi_app: FastAPI, _fastapi_pro_isolation: Any) -> Database:
    """The app's `Database` (its lifespan registered it); fails when the app has none.

    Function-scoped (a look-up, no cost), so that each folder overriding `fastapi_app`
    gets its own app's database.
    """
    from fastapi_pro.testing._database import registered_database  # noqa: PLC0415

    database = registered_database(fastapi_app)
    if database is None:
        pytest.fail(
            "The app registers no Database: use Database.lifespan (or setup()) so "
            "SessionDep and the database fixtures can find it.",
            pytrace=False,
        )
    return database


@pytest_asyncio.fixture(loop_scope="session")
async def _fastapi_pro_isolation(
    request: pytest.FixtureRequest, fastapi_app: FastAPI
) -> AsyncIterator[AsyncConnection | None]:
    """One connection in an outer transaction, rolled back after the test."""
    from fastapi_pro.testing._database import isolated, registered_database  # noqa: PLC0415

    database = registered_database(fastapi_app)
    if database is None or request.node.get_closest_marker(_options.NO_ROLLBACK) is not None:
        yield None
        return
    async with isolated(database) as connection:
        yield connection


@pytest_asyncio.fixture(loop_scope="session")
async def fastapi_session(
    fastapi_database: Database, _fastapi_pro_isolation: Any
) -> AsyncIterator[AsyncSession]:
    """An `AsyncSession` in the test's transaction, rolled back after the test.

    What it commits, the app's sessions see (they share the connection, through savepoints).
    """
    async with fastapi_database.sessionmaker() as session:
        yield session


@pytest.fixture
def query_counter(fastapi_database: Database) -> Iterator[QueryCounter]:
    """Counts the SQL statements the app's engine runs during the test."""
    from fastapi_pro.testing._capture import QueryCounter  # noqa: PLC0415

    counter = QueryCounter(fastapi_database.engine.sync_engine)
    yield counter
    counter.close()


@pytest.fixture
def assert_max_queries(query_counter: QueryCounter) -> Any:
    """A guard against N+1 queries: fails a block that runs more statements than allowed."""
    return query_counter.assert_max
