"""Connection faults: bounded connects and statements, broken connections dropped, one log line.

A refused, reset or timed-out connection surfaces from the driver as a plain `OSError` or
`TimeoutError`, not as SQLAlchemy's `DBAPIError`. `FaultWatch` hooks an engine so that such a
connection is discarded at once (never handed out again, never waited on to close) and each kind
of failure is logged as one line, repeats folded into a count, rather than a traceback per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Dialect, ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("fastapi_pro.db")

_DRIVER_MODULES = ("sqlite3", "aiosqlite", "sqlalchemy", "asyncpg")


def connect_args(
    url: URL,
    given: dict[str, Any],
    *,
    connect_timeout: float | None,
    statement_timeout: float | None,
    command_timeout: float | None,
) -> dict[str, Any]:
    """The driver's connect arguments: the bounds, then ``given`` (which wins, key by key).

    Only asyncpg talks over a network; SQLite's bound is its ``busy_timeout``.
    """
    bounds = _bounds(url, connect_timeout, statement_timeout, command_timeout)
    server = bounds.get("server_settings", {}) | given.get("server_settings", {})
    return bounds | given | ({"server_settings": server} if server else {})


def _bounds(
    url: URL,
    connect_timeout: float | None,
    statement_timeout: float | None,
    command_timeout: float | None,
) -> dict[str, Any]:
    if url.get_backend_name() != "postgresql" or url.get_driver_name() != "asyncpg":
        return {}
    args: dict[str, Any] = {}
    if connect_timeout is not None:
        args["timeout"] = connect_timeout
    if command_timeout is not None:
        args["command_timeout"] = command_timeout
    if statement_timeout is not None:
        args["server_settings"] = {"statement_timeout": str(round(statement_timeout * 1000))}
    return args


def from_driver(error: BaseException) -> bool:
    """Whether ``error`` passed through the database layer (not the application's own code)."""
    traceback = error.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if any(module == name or module.startswith(f"{name}.") for name in _DRIVER_MODULES):
            return True
        traceback = traceback.tb_next
    return False


class FaultWatch:
    """Watch one engine's connections: drop broken ones, log each kind of failure once.

    Args:
        engine: The engine to hook.
        log_interval: Seconds during which repeats of one kind of failure are only counted.
        clock: Monotonic clock (tests pass their own).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        log_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_interval = log_interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._repeats: dict[str, int] = {}
        event.listen(engine.sync_engine, "do_connect", self._connect)
        event.listen(engine.sync_engine, "handle_error", self._handle_error)
        event.listen(engine.sync_engine, "invalidate", self._invalidated)
        event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)

    def note(self, error: BaseException, where: str) -> None:
        """Log ``error`` unless the same kind was logged less than ``log_interval`` ago."""
        kind = f"{_kind(error)} ({where})"
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.log_interval:
            self._repeats[kind] = self._repeats.get(kind, 0) + 1
            return
        self._last[kind] = now
        repeats = self._repeats.pop(kind, 0)
        also = f"; {repeats} more since the last report" if repeats else ""
        logger.warning("Database unavailable: %s: %s%s", kind, _reason(error), also)

    def _connect(self, dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as error:  # refused, unreachable, or no answer within the connect timeout
            self.note(error, "connect")
            raise

    def _handle_error(self, context: ExceptionContext) -> None:
        if isinstance(context.original_exception, OSError):
            # A statement timed out or the socket broke: the connection's state is unknown.
            context.is_disconnect = True

    def _invalidated(self, connection: Any, _record: Any, error: BaseException | None) -> None:
        if error is None:  # invalidated on purpose, not by a failure
            return
        if isinstance(error, OSError):
            # Abort the socket, so that closing it does not wait for a dead network's answer.
            terminate = getattr(getattr(connection, "driver_connection", None), "terminate", None)
            if callable(terminate):
                terminate()
        self.note(error, "connection dropped")


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Replace a pooled connection whose socket the server has already closed, at no cost.

    This stands in for ``pool_pre_ping``: rather than a round trip per checkout, it asks the
    driver whether it has seen the connection end (a restart, ``pg_terminate_backend``, an idle
    timeout), which asyncpg knows as soon as the event loop reads the socket's end. The pool
    then discards the connection and hands out another. A connection that died without a word
    fails its first statement instead, within the command timeout: that request gets a 503 and
    the pool drops every connection opened before it.
    """
    is_closed = getattr(getattr(dbapi_connection, "driver_connection", None), "is_closed", None)
    if is_closed is not None and is_closed():
        msg = "The database closed this pooled connection."
        raise DisconnectionError(msg)


def _kind(error: BaseException) -> str:
    """The name of the driver's own error when SQLAlchemy's adapter wraps it."""
    cause = error.__cause__
    wrapped = cause is not None and type(error).__module__.startswith("sqlalchemy.")
    return type(cause if wrapped else error).__name__


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    if text in ("", "()"):
        return "no answer in time" if isinstance(error, TimeoutError) else "connection closed"
    return text.splitlines()[0][:200]
