"""`Database`: one engine and session factory per app, with a lifespan and a health ping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

from fastapi_pro._shared.state import AppSlot
from fastapi_pro.db._engine import EngineConfig, probe_engine, request_engine
from fastapi_pro.db._errors import DatabaseUnavailableError, raise_translated
from fastapi_pro.db._faults import FaultWatch
from fastapi_pro.db._guard import check_allowed
from fastapi_pro.db._pool_watch import PoolListener, watch
from fastapi_pro.db._unit_of_work import (
    DATABASE_ERRORS,
    commit_and_release,
    release,
    session_factory,
    translated,
)
from fastapi_pro.db._urls import DEFAULT_URL, async_url, shown
from fastapi_pro.settings import DatabaseSettings

_SESSIONS_KEY = "fastapi_pro.sessions"  # the open request sessions, by Database, in the scope


class Database:
    """An async engine, its session factory and their lifecycle.

    Example:
        ```python
        db = Database("postgresql+asyncpg://app@localhost/app")
        app = FastAPI(lifespan=db.lifespan)
        ```

    Args:
        url: SQLAlchemy async URL; SQLite (aiosqlite) by default. A URL without a driver
            (``postgresql://...``, ``sqlite:///...``) gets the async one (asyncpg, aiosqlite).
        echo: Log every statement.
        pool_size: Connections kept open (ignored for in-memory SQLite).
        max_overflow: Extra connections allowed under load.
        pool_timeout: Seconds to wait for a free connection.
        connect_timeout: Seconds to open a connection (PostgreSQL), ``None`` for the driver's 60.
        statement_timeout: PostgreSQL's ``statement_timeout`` for every connection, in seconds:
            the server cancels a longer statement. ``None`` keeps the server's setting.
        command_timeout: Seconds the client waits for any statement's answer (PostgreSQL),
            which also bounds a dead network; the connection is then dropped. ``None``: no bound.
        pool_recycle: Seconds before a connection is replaced.
        pool_pre_ping: Send a round trip to test each connection before handing it out. Off by
            default: a connection the server closed is found without one (the driver knows)
            and replaced, and one that breaks in use fails that request with a 503 and makes
            the pool drop every older connection.
        cursor_key: HMAC key signing keyset cursors; random per instance by default, so give
            every worker the same key when several serve one API.
        engine_options: Further keyword arguments for `create_async_engine`.
    """

    def __init__(
        self,
        url: str | URL = DEFAULT_URL,
        *,
        echo: bool = False,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 5.0,
        connect_timeout: float | None = 5.0,
        statement_timeout: float | None = 5.0,
        command_timeout: float | None = 6.0,
        pool_recycle: int = 1800,
        pool_pre_ping: bool = False,
        cursor_key: bytes | None = None,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = async_url(url)
        config = EngineConfig(
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=pool_recycle,
            pool_pre_ping=pool_pre_ping,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            command_timeout=command_timeout,
            given=dict(engine_options or {}),
        )
        options = config.options(self.url)
        self.engine: AsyncEngine = request_engine(self.url, options)
        self._faults = FaultWatch(self.engine)
        self._pool_listeners: list[PoolListener] = watch(self.engine.sync_engine.pool)
        # Readiness pings through a pool of its own: it must not queue behind the requests.
        self._probe = probe_engine(self.url, self.engine, options["connect_args"])
        self.sessionmaker = session_factory(self.engine, cursor_key)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings, **engine_options: Any) -> Database:
        """Build a `Database` from the ``database`` section of `Settings`."""
        secret = settings.cursor_secret
        return cls(
            settings.url.get_secret_value(),
            echo=settings.echo,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            connect_timeout=settings.connect_timeout,
            statement_timeout=settings.statement_timeout,
            command_timeout=settings.command_timeout,
            pool_recycle=settings.pool_recycle,
            pool_pre_ping=settings.pool_pre_ping,
            cursor_key=secret.get_secret_value().encode() if secret else None,
            engine_options=engine_options or None,
        )

    def __repr__(self) -> str:
        return f"Database({shown(self.url)!r})"

    @property
    def dialect(self) -> str:
        """The backend name: ``"postgresql"``, ``"sqlite"``, ..."""
        return self.url.get_backend_name()

    def add_pool_listener(self, listener: PoolListener) -> None:
        """Tell ``listener`` how long each checkout of the request pool waited, and which timed out.

        It also hears of every change to the pool's counts (checkout, return, dispose).
        `Metrics.track_database` registers one; the health pings' own pool is not reported.
        """
        self._pool_listeners.append(listener)

    @asynccontextmanager
    async def lifespan(self, app: ASGIApp) -> AsyncGenerator[None, None]:
        """Register this database on ``app`` for `SessionDep`, and dispose the pool at exit.

        Use it as the app's lifespan, or enter it from your own:
        ``async with db.lifespan(app): yield``.
        """
        check_allowed(self.url)
        REGISTERED.put(app, self)
        try:
            yield
        finally:
            await self.dispose()

    @classmethod
    def of(cls, connection: HTTPConnection | Starlette) -> Database:
        """Return the `Database` registered on the app serving ``connection`` (or on an app).

        Raises:
            RuntimeError: When no database lifespan ran for this app.
        """
        return REGISTERED.get(connection)

    @asynccontextmanager
    async def session(self) -> AsyncGenerator[AsyncSession, None]:
        """Open a session for a script or background job: commit on success, else roll back.

        Database errors surface as `AppError`s (see `fastapi_pro.db.translate_error`).
        """
        check_allowed(self.url)
        session = self.sessionmaker()
        ended = False
        try:
            with translated():
                yield session
            ended = True  # shielded: a cancelled request still commits or rolls back whole
            try:  # the commit flushes what is pending: the same errors can arise
                await asyncio.shield(session.run_sync(commit_and_release))
            except (*DATABASE_ERRORS, OSError) as error:  # OSError: connection lost
                raise_translated(error)
        finally:
            if not ended:
                await asyncio.shield(session.run_sync(release))

    @asynccontextmanager
    async def read(self) -> AsyncGenerator[AsyncConnection, None]:
        """Open a connection for reads with Core statements: the lean path, without a session.

        No ORM session and no identity map: rows come back as the statement selects them. The
        statements run in one transaction that is rolled back when the block ends, so nothing
        written through it stays; use a session for writes. Errors are translated as in
        `session`, and the connection returns to the pool even when the caller is cancelled.
        """
        check_allowed(self.url)
        bound = self.sessionmaker.kw.get("bind")
        if isinstance(bound, AsyncConnection):  # a test's connection: read inside its transaction
            with translated():
                yield bound
            return
        connection = self.engine.connect()
        try:
            with translated():
                await connection.start()
                yield connection
        finally:
            if connection.sync_connection is not None:  # checked out: return it to the pool
                await asyncio.shield(connection.close())

    @asynccontextmanager
    async def request_session(
        self, connection: HTTPConnection | None
    ) -> AsyncGenerator[AsyncSession, None]:
        """The session of the request on ``connection``, shared by everything that asks for it.

        The first caller in a request opens it (as `session` does) and commits or rolls it back
        when its block ends; later callers in the same request get the same session and leave
        that to the first. `SessionDep` and the user loader of `CurrentUser` both use it, so an
        authenticated request runs one unit of work on one connection. Without a connection
        (a script, a token refresh), it is a session of its own.
        """
        sessions: dict[Database, AsyncSession] = (
            {} if connection is None else connection.scope.setdefault(_SESSIONS_KEY, {})
        )
        shared = sessions.get(self)
        if shared is not None:
            yield shared
            return
        async with self.session() as session:
            sessions[self] = session
            try:
                yield session
            finally:
                sessions.pop(self, None)

    async def ping(self, timeout: float = 1.0) -> None:  # noqa: ASYNC109 - probes need a bound
        """Run ``SELECT 1`` through a small pool of its own, never waiting for the request pool.

        Pings keep one connection of their own (in-memory SQLite shares its only one), so a
        backlog of requests cannot delay them: they report the database, not the queue.

        Raises:
            DatabaseUnavailableError: When the database does not answer within ``timeout``.
        """
        try:
            async with asyncio.timeout(timeout), self._probe.connect() as connection:
                try:
                    await connection.execute(text("SELECT 1"))
                except BaseException:  # cancelled or failed: drop it, never wait on its close
                    if connection.sync_connection is not None:  # started: it is never None here
                        connection.sync_connection.invalidate()
                    raise
        except (TimeoutError, OSError, DBAPIError) as error:
            msg = "The database did not answer the health check."
            raise DatabaseUnavailableError(msg, retry_after=1) from error

    async def create_all(self, metadata: Any) -> None:
        """Create every table of ``metadata`` that does not exist yet (tests and demos)."""
        check_allowed(self.url)
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._probe is not self.engine:
            await self._probe.dispose()


REGISTERED: AppSlot[Database] = AppSlot(
    "fastapi_pro_database",
    Database,
    missing=(
        "No Database is registered on this app. Create the app with "
        "FastAPI(lifespan=db.lifespan), or enter `async with db.lifespan(app)` in your own "
        "lifespan."
    ),
)
"""The `Database` whose lifespan runs for an app."""
