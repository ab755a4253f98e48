"""Translate database errors into `AppError`s by SQLSTATE or SQLite extended code, not by text.

| Cause | PostgreSQL SQLSTATE | SQLite code | Raised |
| --- | --- | --- | --- |
| unique violation | 23505 | 2067, 1555 | `UniqueViolationError` (409) |
| foreign key violation | 23503 | 787 | `ForeignKeyViolationError` (409) |
| not null / check violation | 23502, 23514 | 1299, 275 | `IntegrityViolationError` (422) |
| serialization failure, deadlock | 40001, 40P01 | 5, 6, 517 | `TransactionConflictError` (503) |
| lost, refused, timed out | 08xxx, 57014, 57P01-3, 53300 | | `DatabaseUnavailableError` (503) |
| stale optimistic-lock version | | | `StaleVersionError` (409) |
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError

from fastapi_pro.errors import (
    AppError,
    ConflictError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)

T = TypeVar("T")


class UniqueViolationError(ConflictError):
    """A row with the same unique value exists (409); names the constraint and fields."""

    code = "unique_violation"
    title = "Already exists"


class ForeignKeyViolationError(ConflictError):
    """The write refers to a missing row, or a row others still refer to (409)."""

    code = "foreign_key_violation"
    title = "Related row conflict"


class IntegrityViolationError(UnprocessableEntityError):
    """A value breaks a NOT NULL or CHECK constraint (422)."""

    code = "integrity_violation"
    title = "Constraint violated"


class InvalidValueError(UnprocessableEntityError):
    """A value does not fit its column: out of the type's range, too long, malformed (422)."""

    code = "invalid_value"
    title = "Invalid value"


class TransactionConflictError(ServiceUnavailableError):
    """The transaction lost a serialization race or a deadlock; retrying may succeed (503)."""

    code = "transaction_conflict"
    title = "Transaction conflict"


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database could not be reached (503)."""

    code = "database_unavailable"
    title = "Database unavailable"


class StaleVersionError(ConflictError):
    """The row changed since it was read: its version is not the one expected (409)."""

    code = "stale_version"
    title = "Stale version"


_SQLITE = {
    2067: UniqueViolationError,  # SQLITE_CONSTRAINT_UNIQUE
    1555: UniqueViolationError,  # SQLITE_CONSTRAINT_PRIMARYKEY
    787: ForeignKeyViolationError,  # SQLITE_CONSTRAINT_FOREIGNKEY
    1299: IntegrityViolationError,  # SQLITE_CONSTRAINT_NOTNULL
    275: IntegrityViolationError,  # SQLITE_CONSTRAINT_CHECK
    5: TransactionConflictError,  # SQLITE_BUSY
    6: TransactionConflictError,  # SQLITE_LOCKED
    517: TransactionConflictError,  # SQLITE_BUSY_SNAPSHOT
}
_POSTGRES = {
    "23505": UniqueViolationError,
    "23503": ForeignKeyViolationError,
    "23502": IntegrityViolationError,
    "23514": IntegrityViolationError,
    "40001": TransactionConflictError,
    "40P01": TransactionConflictError,
    "53300": DatabaseUnavailableError,  # too many connections
    # Values that do not fit their column. Not the whole class 22: division by zero or an
    # invalid regular expression are the application's bugs, and stay 500s.
    "22000": InvalidValueError,  # asyncpg refusing a parameter before sending it (int64 range)
    "22001": InvalidValueError,  # string too long
    "22003": InvalidValueError,  # numeric value out of range
    "22007": InvalidValueError,  # invalid datetime format
    "22008": InvalidValueError,  # datetime field overflow
    "22021": InvalidValueError,  # character not in repertoire
    "22P02": InvalidValueError,  # invalid text representation
    "22P05": InvalidValueError,  # untranslatable character
    "57P01": DatabaseUnavailableError,  # admin shutdown
    "57P02": DatabaseUnavailableError,  # crash shutdown
    "57P03": DatabaseUnavailableError,  # cannot connect now
    "57014": DatabaseUnavailableError,  # statement_timeout cancelled the statement
}
_POSTGRES_CLASSES: dict[str, type[AppError]] = {"08": DatabaseUnavailableError}
_DETAIL: dict[type[AppError], str] = {
    UniqueViolationError: "A row with the same {what} already exists.",
    ForeignKeyViolationError: "The {what} refers to a row that does not exist or is still in use.",
    IntegrityViolationError: "The {what} breaks a database constraint.",
    InvalidValueError: "A value does not fit its column (out of range, too long or malformed).",
    TransactionConflictError: "The transaction conflicted with another one; retry it.",
    DatabaseUnavailableError: "The database is unavailable; retry later.",
}
# SQLite reports the failing columns only in its message, whose format is fixed (not localised):
# "UNIQUE constraint failed: users.email, users.tenant_id".
_SQLITE_COLUMNS = re.compile(r"constraint failed: ([\w.]+(?:, [\w.]+)*)")


def _driver_error(error: DBAPIError) -> BaseException | None:
    orig = error.orig
    # The asyncpg adapter wraps asyncpg's exception; the original carries the details.
    return orig.__cause__ if orig is not None and orig.__cause__ is not None else orig


def _sqlstate(error: DBAPIError) -> str | None:
    for candidate in (error.orig, _driver_error(error)):
        for name in ("sqlstate", "pgcode"):
            value = getattr(candidate, name, None)
            if isinstance(value, str):
                return value
    return None


def _postgres_names(error: DBAPIError) -> tuple[str | None, list[str]]:
    driver = _driver_error(error)
    constraint = getattr(driver, "constraint_name", None)
    column = getattr(driver, "column_name", None)
    detail = getattr(driver, "detail", None) or ""
    # "Key (email, tenant_id)=(...) already exists." names the columns; the values are dropped.
    match = re.match(r"Key \(([^)]*)\)=", detail)
    fields = [f.strip() for f in match.group(1).split(",")] if match else []
    if column and column not in fields:
        fields.append(column)
    return constraint, fields


def _sqlite_names(error: DBAPIError) -> tuple[str | None, list[str]]:
    match = _SQLITE_COLUMNS.search(str(error.orig))
    if not match:
        return None, []
    return None, [part.split(".")[-1] for part in match.group(1).split(", ")]


def classify(error: DBAPIError) -> type[AppError] | None:
    """Return the `AppError` class for a driver error, or ``None`` when it has no mapping."""
    sqlstate = _sqlstate(error)
    if sqlstate is not None:
        # By code, else by class: 08 is a connection exception.
        return _POSTGRES.get(sqlstate) or _POSTGRES_CLASSES.get(sqlstate[:2])
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code in _SQLITE:
        return _SQLITE[code]
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return DatabaseUnavailableError
    return None


def translate_error(error: BaseException) -> AppError | None:
    """Return the `AppError` that a database error should surface as, or ``None``.

    Unique, foreign-key, not-null and check violations name their constraint and fields (never
    the offending values); serialization failures and deadlocks carry ``Retry-After``.
    """
    if not isinstance(error, DBAPIError):
        return _translate_other(error)
    cls = classify(error)
    if cls is None:
        return None
    constraint, fields = (
        _postgres_names(error) if _sqlstate(error) is not None else _sqlite_names(error)
    )
    what = " and ".join(fields) or "values"
    extensions: dict[str, Any] = {}
    if constraint:
        extensions["constraint"] = constraint
    if fields:
        extensions["fields"] = fields
    detail = _DETAIL[cls].format(what=what)
    if issubclass(cls, ServiceUnavailableError):
        return cls(detail, retry_after=1)
    return cls(detail, extensions=extensions)


def _translate_other(error: BaseException) -> AppError | None:
    if isinstance(error, StaleDataError):
        return StaleVersionError("The row was changed by someone else; reload it and retry.")
    if isinstance(error, OSError | ConnectionError | PoolTimeoutError):
        # PoolTimeoutError: every pooled connection stayed busy for pool_timeout seconds.
        return DatabaseUnavailableError(_DETAIL[DatabaseUnavailableError], retry_after=1)
    if isinstance(error, OverflowError) and _raised_by_driver(error):
        # sqlite3 cannot bind an integer beyond 64 bits; it raises before any SQL runs.
        return InvalidValueError(_DETAIL[InvalidValueError])
    return None


_DRIVER_MODULES = ("sqlite3", "aiosqlite", "sqlalchemy", "asyncpg")


def _raised_by_driver(error: BaseException) -> bool:
    """Whether ``error`` came out of the database layer, not the application's own code."""
    traceback = error.__traceback__
    module = ""
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        traceback = traceback.tb_next
    return any(module == name or module.startswith(f"{name}.") for name in _DRIVER_MODULES)


def raise_translated(error: BaseException) -> NoReturn:
    """Raise the `AppError` that ``error`` translates to, or ``error`` itself when it has none."""
    translated = translate_error(error)
    if translated is None:
        raise error
    raise translated from error


async def retry_transaction(
    work: Callable[[], Awaitable[T]], *, attempts: int = 3, backoff: float = 0.05
) -> T:
    """Run a unit of work again when it fails with a `TransactionConflictError`.

    ``work`` must open and commit its own transaction (for example with
    ``async with db.session()``), so that each attempt starts afresh.

    Args:
        work: The async callable to run.
        attempts: How many times to try in all.
        backoff: Seconds to wait after the first failure; doubled after each further one.

    Raises:
        TransactionConflictError: When the last attempt fails too.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except TransactionConflictError:
            if attempt == attempts:
                raise
        except DBAPIError as error:
            translated = translate_error(error)
            if not isinstance(translated, TransactionConflictError) or attempt == attempts:
                raise
        await asyncio.sleep(backoff * 2 ** (attempt - 1))
    msg = "attempts must be at least 1"
    raise ValueError(msg)
