"""A `Database`'s units of work: how its sessions are made, and how they end."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fastapi_pro.db._cursor import CURSOR_KEY
from fastapi_pro.db._errors import raise_translated
from fastapi_pro.db._faults import from_driver
from fastapi_pro.db._soft_delete import SoftDeleteSession

# What a session's work or commit raises that `translate_error` knows. OverflowError only
# translates when the driver raised it (binding an integer beyond 64 bits).
DATABASE_ERRORS = (DBAPIError, StaleDataError, PoolTimeoutError, OverflowError)


@contextmanager
def translated() -> Generator[None, None, None]:
    """Database errors raised inside the block as `AppError`s; the caller's own pass as they are."""
    try:
        yield
    except DATABASE_ERRORS as error:
        raise_translated(error)
    except OSError as error:  # refused, lost or timed out in the driver: 503
        if from_driver(error):
            raise_translated(error)
        raise


def release(session: Session) -> None:
    """Roll back whatever was not committed, then return the connection to the pool.

    ``close()`` alone is not enough: after a COMMIT that failed (a deferred constraint), SQLite
    keeps the transaction open and SQLAlchemy returns the connection without resetting it, so
    the next unit of work on that connection would see (and fail on) the half-done one.
    """
    session.expunge_all()  # the caller's objects stay as close() leaves them: detached, unexpired
    try:
        with contextlib.suppress(*DATABASE_ERRORS, OSError):  # the pool resets or discards it
            session.rollback()
    finally:
        session.close()


def commit_and_release(session: Session) -> None:
    """Commit, then release: one trip into SQLAlchemy's greenlet for the whole ending."""
    try:
        session.commit()
    finally:
        release(session)


def session_factory(
    engine: AsyncEngine, cursor_key: bytes | None
) -> async_sessionmaker[AsyncSession]:
    """The session factory of a `Database`.

    Loaded objects stay readable after commit (no lazy reload under asyncio), soft-deleted rows
    are hidden, and keyset cursors are signed with ``cursor_key`` (a random one by default).
    """
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        sync_session_class=SoftDeleteSession,
        info={CURSOR_KEY: cursor_key or os.urandom(32)},
    )
