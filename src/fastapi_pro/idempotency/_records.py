"""The table of stored responses, its creation, and the removal of expired records."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, Text, delete

from fastapi_pro.db import Database, UTCDateTime

DEFAULT_TABLE = "idempotency_records"
"""The name `idempotency_table` gives its table unless told otherwise."""


def idempotency_table(metadata: MetaData, name: str = DEFAULT_TABLE) -> Table:
    """Add the table of idempotency records to ``metadata`` and return it.

    Add it to the metadata Alembic reads (``Base.metadata``) so migrations create it. One row
    per (key, principal, method, route template): the request's fingerprint, and the
    response's status, kept headers (JSON) and body, until ``expires_at``.
    """
    return Table(
        name,
        metadata,
        Column("key", String(255), primary_key=True),
        Column("principal", String(255), primary_key=True),
        Column("method", String(16), primary_key=True),
        Column("route", String(1024), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer, nullable=False),
        Column("headers", Text, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False, index=True),
    )


async def create_idempotency_table(database: Database, table: Table) -> None:
    """Create ``table`` if it does not exist (for apps and tests without migrations)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(table.create, checkfirst=True)


async def purge_expired(database: Database, table: Table, *, now: datetime | None = None) -> int:
    """Delete the records expired at ``now`` (default: the current time); return how many."""
    moment = now or datetime.now(UTC)
    async with database.session() as session:
        result = await session.execute(delete(table).where(table.c.expires_at <= moment))
    return int(getattr(result, "rowcount", 0) or 0)
