"""`SqlTokenStore`: refresh-token families and the access-token denylist in SQL tables.

The tables live on their own `MetaData` (`SqlTokenStore.metadata`), apart from the app's
``Base.metadata``: create them with `SqlTokenStore.create_tables`, or add them to your
migrations. Every operation runs in a short transaction of its own, never in the request's.

A database that cannot be reached (refused, reset or timed out: the data layer's
`DatabaseUnavailableError`) becomes `TokenStoreUnavailableError`, the 503 with ``Retry-After``
that the auth routes document, whichever store backs them. The database's own fault watch logs
the outage, once per kind of failure.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import ColumnElement, CursorResult, MetaData, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import Update

from fastapi_pro.auth._errors import TokenStoreUnavailableError
from fastapi_pro.auth._store import RotationResult
from fastapi_pro.db import (
    NAMING_CONVENTION,
    Base,
    Database,
    DatabaseUnavailableError,
    UTCDateTime,
    utcnow,
)

_ID_LENGTH = 255
_UPSERTS: dict[str, Callable[[type[Any]], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
"""The dialects whose ``INSERT ... ON CONFLICT DO UPDATE`` replaces a row in one statement."""


class TokenStoreModel(Base):
    """Declarative base of the `SqlTokenStore` tables, with a `MetaData` of their own."""

    __abstract__ = True
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RefreshTokenFamily(TokenStoreModel):
    """One refresh-token family: the session a login started, and its current token."""

    __tablename__ = "fastapi_pro_refresh_families"

    family_id: Mapped[str] = mapped_column(String(_ID_LENGTH), primary_key=True)
    subject: Mapped[str] = mapped_column(String(_ID_LENGTH), index=True)
    current_token_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class DeniedToken(TokenStoreModel):
    """One denied access token, by ``jti``, until it would have expired anyway."""

    __tablename__ = "fastapi_pro_denied_tokens"

    token_id: Mapped[str] = mapped_column(String(_ID_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


async def _rowcount(session: AsyncSession, statement: Update) -> int:
    result = await session.execute(
        statement.execution_options(synchronize_session=False),
    )
    return cast("CursorResult[Any]", result).rowcount


async def _forget_expired(
    session: AsyncSession,
    model: type[RefreshTokenFamily | DeniedToken],
    *where: ColumnElement[bool],
) -> None:
    """Delete the rows of ``model`` matching ``where`` whose ``expires_at`` has passed."""
    await session.execute(
        delete(model)
        .where(*where, model.expires_at <= utcnow())
        .execution_options(synchronize_session=False)
    )


def _live(now: datetime, *where: ColumnElement[bool]) -> tuple[ColumnElement[bool], ...]:
    """The conditions of the families matching ``where`` that are neither revoked nor expired."""
    family = RefreshTokenFamily
    return (*where, family.revoked_at.is_(None), family.expires_at > now)


class SqlTokenStore:
    """A `TokenStore` in the app's SQL database (PostgreSQL, SQLite, ...).

    Example:
        ```python
        store = SqlTokenStore(db)
        await store.create_tables()  # or create them in a migration
        ```

    Args:
        database: The `Database` whose engine the store opens its transactions on.
    """

    metadata: ClassVar[MetaData] = TokenStoreModel.metadata
    """The store's tables, for ``create_all`` or Alembic's ``target_metadata``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"SqlTokenStore({self.database!r})"

    async def create_tables(self) -> None:
        """Create the store's tables that do not exist yet."""
        await self.database.create_all(self.metadata)

    @asynccontextmanager
    async def _session(self) -> AsyncGenerator[AsyncSession, None]:
        """A unit of work of its own, in which a database outage is a token store outage."""
        try:
            async with self.database.session() as session:
                yield session
        except DatabaseUnavailableError as error:
            msg = "The token store cannot be reached; try again shortly."
            retry = {"Retry-After": error.headers.get("Retry-After", "1")}
            raise TokenStoreUnavailableError(msg, headers=retry) from error

    async def _replace(
        self, session: AsyncSession, model: type[TokenStoreModel], values: dict[str, Any]
    ) -> None:
        """Insert a row, or overwrite the one with the same primary key (the first value)."""
        key = next(iter(values))
        changes = {name: value for name, value in values.items() if name != key}
        upsert = _UPSERTS.get(self.database.dialect)
        if upsert is None:  # a dialect without ON CONFLICT: the ORM reads, then writes
            await session.merge(model(**values))
            return
        statement = upsert(model).values(values)
        await session.execute(statement.on_conflict_do_update(index_elements=[key], set_=changes))

    async def start_family(
        self, family_id: str, subject: str, token_id: str, expires_at: datetime
    ) -> None:
        """Record a new refresh-token family whose current token is ``token_id``.

        Also forgets the subject's families that have expired.
        """
        async with self._session() as session:
            await _forget_expired(
                session, RefreshTokenFamily, RefreshTokenFamily.subject == subject
            )
            await self._replace(
                session,
                RefreshTokenFamily,
                {
                    "family_id": family_id,
                    "subject": subject,
                    "current_token_id": token_id,
                    "expires_at": expires_at,
                    "revoked_at": None,
                },
            )

    async def rotate(
        self, family_id: str, token_id: str, new_token_id: str, expires_at: datetime
    ) -> RotationResult:
        """Replace the family's current token ``token_id`` by ``new_token_id``, atomically."""
        family = RefreshTokenFamily
        async with self._session() as session:
            now = utcnow()
            live = _live(now, family.family_id == family_id)
            rotated = await _rowcount(
                session,
                update(family)
                .where(*live, family.current_token_id == token_id)
                .values(current_token_id=new_token_id, expires_at=expires_at),
            )
            if rotated == 1:
                return "rotated"
            # A live family whose current token is another one: ``token_id`` was replayed.
            revoke = update(family).where(*live, family.current_token_id != token_id)
            reused = await _rowcount(session, revoke.values(revoked_at=now))
            return "reused" if reused == 1 else "revoked"

    async def revoke_family(self, family_id: str) -> None:
        """Revoke one family (logout of one session); it stays refused until it expires."""
        async with self._session() as session:
            await _rowcount(
                session,
                update(RefreshTokenFamily)
                .where(
                    RefreshTokenFamily.family_id == family_id,
                    RefreshTokenFamily.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow()),
            )

    async def revoke_subject(self, subject: str) -> int:
        """Revoke every live family of ``subject`` (logout everywhere); return how many."""
        async with self._session() as session:
            now = utcnow()
            live = _live(now, RefreshTokenFamily.subject == subject)
            return await _rowcount(
                session, update(RefreshTokenFamily).where(*live).values(revoked_at=now)
            )

    async def deny(self, token_id: str, expires_at: datetime) -> None:
        """Put an access token's ``jti`` on the denylist until ``expires_at``.

        Also forgets the denials that have expired.
        """
        async with self._session() as session:
            await _forget_expired(session, DeniedToken)
            await self._replace(
                session,
                DeniedToken,
                {"token_id": token_id, "expires_at": expires_at},
            )

    async def is_denied(self, token_id: str) -> bool:
        """Whether an access token's ``jti`` is on the denylist."""
        async with self._session() as session:
            found = await session.scalar(
                select(DeniedToken.token_id).where(
                    DeniedToken.token_id == token_id, DeniedToken.expires_at > utcnow()
                )
            )
        return found is not None
