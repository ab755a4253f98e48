"""Static checks of the data layer's generic types: mypy must accept this file."""

from typing import assert_type

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from fastapi_pro.db import (
    Base,
    BigIntPrimaryKey,
    CursorPage,
    Page,
    PageParams,
    Repository,
)


class Item(BigIntPrimaryKey, Base):
    __tablename__ = "items"

    name: Mapped[str]


class ItemRepository(Repository[Item]):
    pass


async def check(session: AsyncSession) -> None:
    repo = ItemRepository(session)
    assert_type(repo.model, type[Item])
    assert_type(await repo.get(1), Item)
    assert_type(await repo.get_or_none(1), Item | None)
    assert_type(await repo.list(), list[Item])
    assert_type(await repo.add(Item(name="x")), Item)
    assert_type(await repo.update(1, {"name": "y"}), Item)
    assert_type(await repo.add_if_absent({"name": "x"}), Item | None)
    assert_type(await repo.upsert({"name": "x"}, conflict=["name"]), Item)
    assert_type(await repo.page(PageParams()), Page[Item])
    assert_type(await repo.count(), int)
    assert_type(
        (await repo.cursor_page(__import__("fastapi_pro.db").db.CursorParams())), CursorPage[Item]
    )
