"""The two statements a keyed request adds to its unit of work: the lookup and the record.

PostgreSQL's lookup takes a transaction-scoped advisory lock without waiting
(``pg_try_advisory_xact_lock``) and reads the live record in the same ``SELECT``: a duplicate
that finds the lock taken is still running elsewhere. SQLite's lookup is an ``UPDATE`` that
changes nothing, which takes the database's write lock: a duplicate waits for the first
request's transaction to end, then reads its record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Executable, Table, and_, func, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite


@dataclass(frozen=True, slots=True)
class RecordId:
    """What a record is stored under."""

    key: str
    principal: str
    method: str
    route: str

    def lock_id(self, table: Table) -> int:
        """A signed 64-bit number naming this record, for PostgreSQL's advisory lock."""
        text = "\0".join((table.name, self.key, self.principal, self.method, self.route))
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


def _live(table: Table, record: RecordId, now: datetime) -> ColumnElement[bool]:
    return and_(
        table.c.key == record.key,
        table.c.principal == record.principal,
        table.c.method == record.method,
        table.c.route == record.route,
        table.c.expires_at > now,
    )


def lookup(dialect: str, table: Table, record: RecordId, now: datetime) -> Executable:
    """The statement giving ``free`` (no duplicate running) and the live record's columns.

    Raises:
        RuntimeError: For a database other than PostgreSQL and SQLite.
    """
    columns = (table.c.fingerprint, table.c.status, table.c.headers, table.c.body)
    if dialect == "postgresql":
        one = select(literal(1).label("one")).subquery("one")
        free = func.pg_try_advisory_xact_lock(record.lock_id(table)).label("free")
        joined = one.outerjoin(table, _live(table, record, now))
        return select(free, *columns).select_from(joined)
    if dialect == "sqlite":
        changed = update(table).where(_live(table, record, now)).values(key=table.c.key)
        return changed.returning(true().label("free"), *columns)
    msg = f"Idempotency keys are stored on PostgreSQL and SQLite, not on {dialect!r}."
    raise RuntimeError(msg)


def store(dialect: str, table: Table, values: dict[str, Any], now: datetime) -> Executable:
    """Insert the record, or replace an expired one; it returns a row only when it wrote."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    kept = ("fingerprint", "status", "headers", "body", "expires_at")
    return statement.on_conflict_do_update(
        index_elements=[table.c.key, table.c.principal, table.c.method, table.c.route],
        set_={name: statement.excluded[name] for name in kept},
        where=table.c.expires_at <= now,
    ).returning(literal(1))
