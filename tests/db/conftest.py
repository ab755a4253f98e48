from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.db import Database
from tests.db.models import Model


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    async with database.engine.begin() as connection:
        await connection.run_sync(Model.metadata.drop_all)
        await connection.run_sync(Model.metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as session:
        yield session


@dataclass
class StatementLog:
    """SQL statements sent to the database (transaction control excluded)."""

    statements: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def sql(db: Database) -> Iterator[StatementLog]:
    log = StatementLog()

    def record(*args: Any) -> None:
        statement: str = args[2]
        if statement.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            log.statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    yield log
    event.remove(db.engine.sync_engine, "before_cursor_execute", record)
