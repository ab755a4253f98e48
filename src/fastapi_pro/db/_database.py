"""`Database`: one engine and session factory per app, with a lifespan and a health ping."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

from fastapi_pro._shared.state import AppSlot
from fastapi_pro.db._cursor import CURSOR_KEY
from fastapi_pro.db._errors import DatabaseUnavailableError, raise_translated
from fastapi_pro.db._faults import FaultWatch, connect_args, from_driver
from fastapi_pro.db._pool_watch import PoolListener, watch, watched_pool_class
from fastapi_pro.db._soft_delete import SoftDeleteSession
from fastapi_pro.settings import DatabaseSettings

_SESSIONS_KEY = "fastapi_pro.sessions"  # the open request sessions, by Database, in the scope

DEFAULT_URL = "sqlite+aiosqlite:///./app.db"

# What a session's work or commit raises that `translate_error` knows. OverflowError only
# translates when the driver raised it (binding an integer beyond 64 bits).
_DATABASE_ERRORS = (DBAPIError, StaleDataError, PoolTimeoutError, OverflowError)

# Plain URLs (``postgresql://``, as most platforms hand them out) get the async driver.
_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


# Set by the test plugin while the app under test starts and runs: the only database it may use.
_allowed_databases: ContextVar[tuple[URL, ...] | None] = ContextVar(
    "fastapi_pro_allowed_databases", default=None
)


def same_database(left: str | URL, right: str | URL) -> bool:
    """Whether two URLs name the same database (drivers and passwords aside)."""
    a, b = async_url(left), async_url(right)
    return (a.get_backend_name(), a.host, a.port, a.database) == (
        b.get_backend_name(),
        b.host,
        b.port,
        b.database,
    )


@contextmanager
def only_database(*urls: str | URL) -> Iterator[None]:
    """Make every `Database` on other URLs refuse to start, open sessions or create tables.

    Holds inside the block and in tasks started in it: the test plugin runs the app's start-up
    and every request under it, so tests never touch a database that is not theirs (code that
    takes connections from ``database.engine`` itself is not checked).
    """
    token = _allowed_databases.set(tuple(async_url(url) for url in urls))
    try:
        yield
    finally:
        _allowed_databases.reset(token)


def async_url(url: str | URL) -> URL:
    """``url`` with the async driver of its backend when it names none (asyncpg, aiosqlite)."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed if driver is None else parsed.set(drivername=driver)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, memory: bool) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    if not memory:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _release(session: Session) -> None:
    """Roll back whatever was not committed, then return the connection to the pool.

    ``close()`` alone is not enough: after a COMMIT that failed (a deferred constraint), SQLite
    keeps the transaction open and SQLAlchemy returns the connection without resetting it, so
    the next unit of work on that connection would see (and fail on) the half-done one.
    """
    session.expunge_all()  # the caller's objects stay as close() leaves them: detached, unexpired
    try:
        with contextlib.suppress(*_DATABASE_ERRORS, OSError):  # the pool resets or discards it
            session.rollback()
    finally:
        session.close()


@contextmanager
def _translated() -> Iterator[None]:
    """Database errors raised inside the block as `AppError`s; the caller's own pass as they are."""
    try:
        yield
    except _DATABASE_ERRORS as error:
        raise_translated(error)
    except OSError as error:  # refused, lost or timed out in the driver: 503
        if from_driver(error):
            raise_translated(error)
        raise


def _commit_and_release(session: Session) -> None:
    """Commit, then release: one trip into SQLAlchemy's greenlet for the whole ending."""
    try:
        session.commit()
    finally:
        _release(session)


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
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": pool_pre_ping}
        sqlite = self.url.get_backend_name() == "sqlite"
        memory = sqlite and self.url.database in (None, "", ":memory:")
        if memory:
            options["poolclass"] = StaticPool
        else:
            options.update(
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                pool_recycle=pool_recycle,
            )
        extra = dict(engine_options or {})
        options["connect_args"] = connect_args(
            self.url,
            extra.pop("connect_args", {}),
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            command_timeout=command_timeout,
        )
        options.update(extra)
        if "pool" not in options:
            options["poolclass"] = watched_pool_class(self.url, options.get("poolclass"))
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        self._faults = FaultWatch(self.engine)
        self._pool_listeners: list[PoolListener] = []
        watch(self.engine.sync_engine.pool, self._pool_listeners)
        # Readiness pings through a pool of its own: it must not queue behind the requests.
        self._probe = self.engine if memory else _probe_engine(self.url, options["connect_args"])
        if sqlite:
            event.listen(
                self.engine.sync_engine,
                "connect",
                lambda conn, record: _sqlite_pragmas(conn, record, memory=memory),
            )
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            sync_session_class=SoftDeleteSession,
            info={CURSOR_KEY: cursor_key or os.urandom(32)},
        )

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
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

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
    async def lifespan(self, app: ASGIApp) -> AsyncIterator[None]:
        """Register this database on ``app`` for `SessionDep`, and dispose the pool at exit.

        Use it as the app's lifespan, or enter it from your own:
        ``async with db.lifespan(app): yield``.
        """
        self._check_allowed()
        REGISTERED.put(app, self)
        try:
            yield
        finally:
            await self.dispose()

    def _check_allowed(self) -> None:
        allowed = _allowed_databases.get()
        if allowed is None or any(same_database(self.url, url) for url in allowed):
            return
        shown = self.url.render_as_string(hide_password=True)
        tests = ", ".join(url.render_as_string(hide_password=True) for url in allowed)
        msg = (
            f"This Database uses {shown}, not the test database ({tests}); it refuses to "
            "touch it. Build the app's Database from Settings() inside the app factory (the "
            "test plugin sets FASTAPI_PRO_DATABASE__URL before it imports and builds the app), "
            "or allow a further test database with run_app(..., allow=[url])."
        )
        raise RuntimeError(msg)

    @classmethod
    def of(cls, connection: HTTPConnection | Starlette) -> Database:
        """Return the `Database` registered on the app serving ``connection`` (or on an app).

        Raises:
            RuntimeError: When no database lifespan ran for this app.
        """
        return REGISTERED.get(connection)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Open a session for a script or background job: commit on success, else roll back.

        Database errors surface as `AppError`s (see `fastapi_pro.db.translate_error`).
        """
        self._check_allowed()
        session = self.sessionmaker()
        ended = False
        try:
            with _translated():
                yield session
            ended = True  # shielded: a cancelled request still commits or rolls back whole
            try:  # the commit flushes what is pending: the same errors can arise
                await asyncio.shield(session.run_sync(_commit_and_release))
            except (*_DATABASE_ERRORS, OSError) as error:  # OSError: connection lost
                raise_translated(error)
        finally:
            if not ended:
                await asyncio.shield(session.run_sync(_release))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """Open a connection for reads with Core statements: the lean path, without a session.

        No ORM session and no identity map: rows come back as the statement selects them. The
        statements run in one transaction that is rolled back when the block ends, so nothing
        written through it stays; use a session for writes. Errors are translated as in
        `session`, and the connection returns to the pool even when the caller is cancelled.
        """
        self._check_allowed()
        bound = self.sessionmaker.kw.get("bind")
        if isinstance(bound, AsyncConnection):  # a test's connection: read inside its transaction
            with _translated():
                yield bound
            return
        connection = self.engine.connect()
        try:
            with _translated():
                await connection.start()
                yield connection
        finally:
            if connection.sync_connection is not None:  # checked out: return it to the pool
                await asyncio.shield(connection.close())

    @asynccontextmanager
    async def request_session(
        self, connection: HTTPConnection | None
    ) -> AsyncIterator[AsyncSession]:
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
                    connection.sync_connection.invalidate()  # type: ignore[union-attr]
                    raise
        except (TimeoutError, OSError, DBAPIError) as error:
            msg = "The database did not answer the health check."
            raise DatabaseUnavailableError(msg, retry_after=1) from error

    async def create_all(self, metadata: Any) -> None:
        """Create every table of ``metadata`` that does not exist yet (tests and demos)."""
        self._check_allowed()
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._probe is not self.engine:
            await self._probe.dispose()


def _probe_engine(url: URL, arguments: dict[str, Any]) -> AsyncEngine:
    """A pool of its own for health pings: one connection kept, two more while one is stuck."""
    return create_async_engine(
        url,
        pool_size=1,
        max_overflow=2,
        pool_timeout=1.0,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=arguments,
    )


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
