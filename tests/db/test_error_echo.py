"""Ids a client chose (a slug, a string from the path) are bounded in not-found messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastapi_pro.db import Database
from fastapi_pro.errors import NotFoundError
from tests.db.models import Category, CategoryRepository, Model


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    # SQLite compares a string with the integer key and finds nothing; PostgreSQL refuses
    # the type before any lookup, so only SQLite reaches the message.
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'echo.db'}")
    await database.create_all(Model.metadata)
    yield database
    await database.dispose()


async def test_a_long_string_id_is_quoted_and_cut(sqlite_db: Database) -> None:
    async with sqlite_db.sessionmaker() as session:
        with pytest.raises(NotFoundError) as raised:
            await CategoryRepository(session).get("slug\n" + "x" * 60_000)

    shown = '"slug\\n' + "x" * 35 + '…" (60005 characters)'
    assert raised.value.detail == f"Category {shown} does not exist."
    assert raised.value.extensions == {"resource": "Category", "id": shown}


async def test_a_numeric_id_is_shown_as_it_is(sqlite_db: Database) -> None:
    async with sqlite_db.sessionmaker() as session:
        with pytest.raises(NotFoundError) as raised:
            await CategoryRepository(session).get(42)

    assert raised.value.detail == "Category 42 does not exist."
    assert Category.__name__ == raised.value.extensions["resource"]
