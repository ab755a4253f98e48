from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from fastapi_pro.db import (
    Database,
    DatabaseUnavailableError,
    TransactionConflictError,
    UniqueViolationError,
    async_url,
    only_database,
    retry_transaction,
)
from fastapi_pro.db._faults import FaultWatch
from fastapi_pro.settings import DatabaseSettings
from tests.db.models import Product, ProductRepository


async def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with db.engine.connect() as connection:
        foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
        journal = await connection.scalar(text("PRAGMA journal_mode"))
        timeout = await connection.scalar(text("PRAGMA busy_timeout"))
    await db.dispose()

    assert (foreign_keys, journal, timeout) == (1, "wal", 5000)


async def test_in_memory_sqlite_shares_one_connection() -> None:
    db = Database("sqlite+aiosqlite://")
    async with db.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    async with db.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM t")) == 0
    assert isinstance(db.engine.pool, StaticPool)
    await db.dispose()


async def test_ping_succeeds_on_a_live_database(db: Database) -> None:
    await db.ping()


async def test_ping_of_a_closed_port_fails_fast_without_secrets(unused_tcp_port: int) -> None:
    db = Database(f"postgresql+asyncpg://app:hunter2@127.0.0.1:{unused_tcp_port}/app")
    started = time.perf_counter()

    with pytest.raises(DatabaseUnavailableError) as raised:
        await db.ping(timeout=0.5)

    assert time.perf_counter() - started < 1.0
    assert "hunter2" not in str(raised.value.detail)
    assert raised.value.headers["Retry-After"] == "1"


def test_repr_hides_the_password() -> None:
    db = Database("postgresql+asyncpg://app:hunter2@db.internal/app")
    assert "hunter2" not in repr(db)
    assert db.dialect == "postgresql"


def test_from_settings_uses_every_pool_option() -> None:
    settings = DatabaseSettings(
        url=SecretStr("postgresql+asyncpg://app@db/app"), pool_size=7, max_overflow=3
    )
    db = Database.from_settings(settings)
    pool = db.engine.pool

    assert pool.size() == 7  # type: ignore[attr-defined]
    assert pool._max_overflow == 3  # type: ignore[attr-defined]


async def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    async with db.session() as session:
        await ProductRepository(session).add(Product(sku="a", name="a", price=1))
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await ProductRepository(session).add(Product(sku="b", name="b", price=1))
            raise RuntimeError

    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Product)) == 1


async def test_session_translates_errors_raised_at_commit(db: Database) -> None:
    async with db.session() as session:
        session.add(Product(sku="a", name="a", price=1))
    with pytest.raises(UniqueViolationError):
        async with db.session() as session:
            session.add(Product(sku="a", name="again", price=1))


async def test_lifespan_registers_and_disposes(db: Database) -> None:
    app = FastAPI()
    async with db.lifespan(app):
        assert app.state.fastapi_pro_database is db
        assert Database.of(app) is db  # an app's own lifespan finds it by the app
        await db.ping()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_serialization_failures_are_retryable_conflicts(postgres_database: str) -> None:
    db = Database(postgres_database, engine_options={"isolation_level": "SERIALIZABLE"})
    async with db.engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS counters"))
        await connection.execute(text("CREATE TABLE counters (id int primary key, n int)"))
        await connection.execute(text("INSERT INTO counters VALUES (1, 0)"))
    both_read = asyncio.Barrier(2)
    attempts = 0

    async def increment() -> None:
        nonlocal attempts
        attempts += 1
        async with db.session() as session:
            n = await session.scalar(text("SELECT n FROM counters WHERE id = 1"))
            if attempts <= 2:
                await both_read.wait()
            await session.execute(text("UPDATE counters SET n = :n WHERE id = 1"), {"n": n + 1})

    with pytest.raises(ExceptionGroup) as raised:
        async with asyncio.TaskGroup() as group:
            group.create_task(increment())
            group.create_task(increment())
    [conflict] = raised.value.exceptions
    assert isinstance(conflict, TransactionConflictError)
    assert conflict.status == 503
    assert conflict.headers["Retry-After"] == "1"

    await retry_transaction(increment, attempts=3, backoff=0.01)
    async with db.engine.connect() as connection:
        assert await connection.scalar(text("SELECT n FROM counters")) == 2
    await db.dispose()


async def test_retry_transaction_gives_up_after_the_last_attempt() -> None:
    calls = 0

    async def always_conflicts() -> None:
        nonlocal calls
        calls += 1
        raise TransactionConflictError

    with pytest.raises(TransactionConflictError):
        await retry_transaction(always_conflicts, attempts=3, backoff=0)
    assert calls == 3


async def test_retry_transaction_does_not_retry_other_errors() -> None:
    calls = 0

    async def fails() -> None:
        nonlocal calls
        calls += 1
        raise UniqueViolationError

    with pytest.raises(UniqueViolationError):
        await retry_transaction(fails, backoff=0)
    assert calls == 1


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://app@db.internal/app", "postgresql+asyncpg"),
        ("postgres://app@db.internal/app", "postgresql+asyncpg"),
        ("sqlite:///./local.db", "sqlite+aiosqlite"),
        ("postgresql+asyncpg://app@db.internal/app", "postgresql+asyncpg"),
    ],
)
def test_a_url_without_a_driver_gets_the_async_one(given: str, used: str) -> None:
    assert Database(given).url.drivername == used


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://app:secret@db.internal:5433/app",
            "postgresql+asyncpg://app:secret@db.internal:5433/app",
        ),
        ("postgresql://app@db.internal/app", "postgresql+asyncpg://app@db.internal/app"),
        ("sqlite:///./local.db", "sqlite+aiosqlite:///./local.db"),
        ("postgresql+psycopg://app@db.internal/app", "postgresql+psycopg://app@db.internal/app"),
    ],
)
def test_async_url_gives_a_url_without_a_driver_its_backends_async_one(
    given: str, expected: str
) -> None:
    assert async_url(given).render_as_string(hide_password=False) == expected


async def test_only_database_refuses_every_other_database(tmp_path: Path) -> None:
    allowed = f"sqlite:///{tmp_path / 'test.db'}"  # no driver: the same database as aiosqlite's
    mine, theirs = Database(allowed), Database(f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}")

    with only_database(allowed):
        async with mine.session() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        with pytest.raises(RuntimeError, match=r"prod\.db, not the test database \(.*test\.db\)"):
            async with theirs.session():
                pass
    async with theirs.session() as session:  # outside the block: no guard
        assert await session.scalar(text("SELECT 1")) == 1
    await mine.dispose()
    await theirs.dispose()


def test_urls_with_and_without_a_driver_name_the_same_database() -> None:
    from fastapi_pro.db._urls import same_database  # noqa: PLC0415

    assert same_database("postgres://u@h/db", "postgresql+asyncpg://u@h/db")
    assert same_database("sqlite:///./a.db", "sqlite+aiosqlite:///./a.db")
    assert not same_database("postgresql://u@h/db", "postgresql://u@h/other")


async def test_session_lets_the_callers_own_os_errors_through(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(FileNotFoundError):
        async with db.session():
            (tmp_path / "missing.txt").read_text()
    await db.dispose()


@pytest.mark.postgres
async def test_from_settings_bounds_every_statement_on_the_server(postgres_database: str) -> None:
    settings = DatabaseSettings(url=SecretStr(postgres_database), statement_timeout=0.2)
    db = Database.from_settings(settings)
    async with db.session() as session:
        shown = await session.scalar(text("SHOW statement_timeout"))
    started = time.perf_counter()
    with pytest.raises(DatabaseUnavailableError) as raised:
        async with db.session() as session:
            await session.execute(text("SELECT pg_sleep(3)"))
    await db.dispose()

    assert shown == "200ms"
    assert time.perf_counter() - started < 1.5
    assert raised.value.headers["Retry-After"] == "1"


@pytest.mark.postgres
async def test_connect_arguments_given_by_the_caller_win_key_by_key(postgres_database: str) -> None:
    named = {"server_settings": {"application_name": "mine"}}
    unbounded = {"server_settings": {"statement_timeout": "0"}}
    shown = []
    for given in (named, unbounded):
        db = Database(postgres_database, engine_options={"connect_args": given})
        async with db.session() as session:
            shown.append(await session.scalar(text("SHOW statement_timeout")))
            shown.append(await session.scalar(text("SHOW application_name")))
        await db.dispose()

    assert shown == ["5s", "mine", "0", ""]


async def test_each_kind_of_connection_failure_is_logged_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = Database("sqlite+aiosqlite://")
    now = [0.0]
    watch = FaultWatch(db.engine, log_interval=60, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="fastapi_pro.db")
    for _ in range(3):
        watch.note(ConnectionRefusedError(111, "Connect call failed"), "connect")
    watch.note(TimeoutError(), "connect")
    now[0] = 61.0
    watch.note(ConnectionRefusedError(111, "Connect call failed"), "connect")
    await db.dispose()

    assert [record.getMessage() for record in caplog.records] == [
        "Database unavailable: ConnectionRefusedError (connect): [Errno 111] Connect call failed",
        "Database unavailable: TimeoutError (connect): no answer in time",
        "Database unavailable: ConnectionRefusedError (connect): [Errno 111] Connect call failed"
        "; 2 more since the last report",
    ]
    assert not any(record.exc_info for record in caplog.records)


class _Checkouts:
    def __init__(self) -> None:
        self.waits: list[float] = []
        self.timeouts: list[float] = []
        self.used: list[int] = []

    def checked_out(self, seconds: float) -> None:
        self.waits.append(seconds)

    def timed_out(self, seconds: float) -> None:
        self.timeouts.append(seconds)

    def changed(self, pool: Any) -> None:
        self.used.append(pool.checkedout())


async def test_pool_listeners_hear_each_checkout_timeout_and_return(database_url: str) -> None:
    database = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    heard = _Checkouts()
    database.add_pool_listener(heard)
    try:
        async with database.engine.connect():
            with pytest.raises(PoolTimeoutError):
                await database.engine.connect().start()
    finally:
        await database.dispose()

    assert len(heard.waits) == 1
    assert heard.timeouts[0] >= 0.2
    assert heard.used == [1, 0, 0]  # checked out, returned, disposed


def test_the_timed_pool_logs_under_the_engines_own_pool_name(database_url: str) -> None:
    database = Database(database_url)
    pool = database.engine.pool

    assert type(pool).__name__.startswith("Watched")
    assert pool.logger.name.startswith("sqlalchemy.pool.")
    assert "fastapi_pro" not in pool.logger.name
