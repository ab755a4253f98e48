"""Static checks of the data layer's generic types: mypy must accept this file."""

from typing import Any, assert_type
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from fastapi_pro.db import (
    Base,
    BigIntPrimaryKey,
    CursorPage,
    CursorParams,
    Page,
    PageParams,
    Repository,
    paginate,
    paginate_cursor,
)


class Item(BigIntPrimaryKey, Base):
    __tablename__ = "items"

    name: Mapped[str]


class ItemOut(BaseModel):
    name: str
    rank: int


class ItemRepository(Repository[Item]):
    pass


class Other(BigIntPrimaryKey, Base):
    __tablename__ = "others"


async def check(session: AsyncSession) -> None:
    repo = ItemRepository(session)
    assert_type(await ItemRepository.for_request(session), ItemRepository)
    assert_type(repo.model, type[Item])
    assert_type(await repo.get(1), Item)
    assert_type(await repo.get_or_none(1), Item | None)
    assert_type(await repo.list(), list[Item])
    assert_type(await repo.add(Item(name="x")), Item)
    assert_type(await repo.update(1, {"name": "y"}), Item)
    assert_type(await repo.update(Item(name="x"), {"name": "y"}, expected_version=2), Item)
    assert_type(await repo.update(UUID(int=1), {"name": "y"}), Item)
    assert_type(await repo.update("sku-1", {"name": "y"}), Item)
    assert_type(await repo.delete(Item(name="x")), None)
    assert_type(await repo.delete(1, hard=True), None)
    assert_type(await repo.add_if_absent({"name": "x"}), Item | None)
    assert_type(await repo.upsert({"name": "x"}, conflict=["name"]), Item)
    assert_type(await repo.page(PageParams()), Page[Item])
    assert_type(await repo.count(), int)
    assert_type(
        (await repo.cursor_page(__import__("fastapi_pro.db").db.CursorParams())), CursorPage[Item]
    )


async def check_pages_of_rows(session: AsyncSession) -> None:
    repo = ItemRepository(session)
    rank = func.count().label("rank")
    params, cursor = PageParams(), CursorParams()
    order = [(Item.id, False)]
    assert_type(await repo.page(params, columns=[rank], into=ItemOut), Page[ItemOut])
    assert_type(await repo.cursor_page(cursor, columns=[rank], into=ItemOut), CursorPage[ItemOut])
    assert_type(await paginate(session, select(Item), params), Page[Item])
    assert_type(await paginate(session, select(Item, rank), params), Page[dict[str, Any]])
    assert_type(await paginate(session, select(Item, rank), params, into=ItemOut), Page[ItemOut])
    assert_type(
        await paginate_cursor(session, select(Item.name), cursor, order=order), CursorPage[str]
    )
    assert_type(
        await paginate_cursor(session, select(Item, rank), cursor, order=order, into=ItemOut),
        CursorPage[ItemOut],
    )


async def check_update_and_delete_refuse_what_is_neither_a_row_nor_a_key(
    session: AsyncSession,
) -> None:
    """Each ignore is needed: were ``target`` to accept anything again, mypy would report it."""
    repo = ItemRepository(session)
    await repo.update(Other(), {"name": "y"})  # type: ignore[call-overload]  # ty: ignore[no-matching-overload]
    await repo.update(1.5, {"name": "y"})  # type: ignore[call-overload]  # ty: ignore[no-matching-overload]
    await repo.update(None, {"name": "y"})  # type: ignore[call-overload]  # ty: ignore[no-matching-overload]
    await repo.update(1, ["name"])  # type: ignore[call-overload]  # ty: ignore[no-matching-overload]
    await repo.delete(Other())  # type: ignore[call-overload]  # ty: ignore[no-matching-overload]
    await repo.delete([1, 2])  # type: ignore[call-overload]  # ty: ignore[no-matching-overload]
