"""The engines of a `Database`: the request pool per backend, SQLite's pragmas, the pings' pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from fastapi_pro.db._faults import connect_args
from fastapi_pro.db._pool_watch import watched_pool_class
from fastapi_pro.db._urls import is_memory


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What `Database` takes about its engine (see its arguments), before the backend applies."""

    echo: bool
    pool_size: int
    max_overflow: int
    pool_timeout: float
    pool_recycle: int
    pool_pre_ping: bool
    connect_timeout: float | None
    statement_timeout: float | None
    command_timeout: float | None
    given: dict[str, Any]

    def options(self, url: URL) -> dict[str, Any]:
        """Keyword arguments for `create_async_engine`: the pool, the bounds, then ``given``."""
        options: dict[str, Any] = {"echo": self.echo, "pool_pre_ping": self.pool_pre_ping}
        options.update(self._pool(url))
        extra = dict(self.given)
        options["connect_args"] = connect_args(
            url,
            extra.pop("connect_args", {}),
            connect_timeout=self.connect_timeout,
            statement_timeout=self.statement_timeout,
            command_timeout=self.command_timeout,
        )
        options.update(extra)
        if "pool" not in options:  # a ready-made pool is used as it is
            options["poolclass"] = watched_pool_class(url, options.get("poolclass"))
        return options

    def _pool(self, url: URL) -> dict[str, Any]:
        """In-memory SQLite keeps its one connection; other databases get a sized pool."""
        if is_memory(url):
            return {"poolclass": StaticPool}
        return {
            "pool_size": self.pool_size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.pool_timeout,
            "pool_recycle": self.pool_recycle,
        }


def request_engine(url: URL, options: dict[str, Any]) -> AsyncEngine:
    """The engine of the requests' pool; SQLite connections get their pragmas on connect."""
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        memory = is_memory(url)
        event.listen(
            engine.sync_engine,
            "connect",
            lambda conn, record: _sqlite_pragmas(conn, record, memory=memory),
        )
    return engine


def probe_engine(url: URL, engine: AsyncEngine, arguments: dict[str, Any]) -> AsyncEngine:
    """A pool of its own for health pings: one connection kept, two more while one is stuck.

    In-memory SQLite has one connection only: the pings share ``engine``.
    """
    if is_memory(url):
        return engine
    return create_async_engine(
        url,
        pool_size=1,
        max_overflow=2,
        pool_timeout=1.0,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=arguments,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, memory: bool) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    if not memory:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
