"""Link rows and races: add_if_absent, upsert with nothing to update, delete of a vanished row."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.db import Database, StaleVersionError, UniqueViolationError
from fastapi_pro.errors import NotFoundError
from tests.db.conftest import StatementLog
from tests.db.models import (
    Event,
    EventRepository,
    Like,
    LikeRepository,
    Playlist,
    PlaylistRepository,
    Product,
    ProductRepository,
    Subscription,
    SubscriptionRepository,
    Track,
)

FOLLOW = {"follower": "ann", "followed": "bob"}


def product(sku: str = "sku-1", **values: object) -> Product:
    return Product(sku=sku, name=f"Product {sku}", price=100, **values)


# -- add_if_absent -------------------------------------------------------------------------------


async def test_add_if_absent_inserts_once_in_one_statement_each(
    session: AsyncSession, sql: StatementLog
) -> None:
    repo = SubscriptionRepository(session)

    first = await repo.add_if_absent(FOLLOW)
    second = await repo.add_if_absent(FOLLOW)

    assert sql.count == 2
    assert "ON CONFLICT DO NOTHING" in sql.statements[1]
    assert isinstance(first, Subscription)
    assert (first.follower, first.followed) == ("ann", "bob")
    assert second is None
    assert await repo.count() == 1


async def test_concurrent_add_if_absent_inserts_exactly_one_row(db: Database) -> None:
    async def follow() -> bool:
        async with db.session() as session:
            return await SubscriptionRepository(session).add_if_absent(FOLLOW) is not None

    created = await asyncio.gather(*(follow() for _ in range(20)))

    assert created.count(True) == 1
    async with db.sessionmaker() as session:
        assert await SubscriptionRepository(session).count() == 1


async def test_add_if_absent_with_conflict_ignores_only_that_index(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    await repo.add(product("a", vendor="v", code="c"))

    assert await repo.add_if_absent({"sku": "a", "name": "x", "price": 1}, conflict=["sku"]) is None
    with pytest.raises(UniqueViolationError) as raised:
        values = {"sku": "b", "name": "x", "price": 1, "vendor": "v", "code": "c"}
        await repo.add_if_absent(values, conflict=["sku"])

    assert raised.value.extensions["fields"] == ["vendor", "code"]


async def test_add_if_absent_restores_a_soft_deleted_row(session: AsyncSession) -> None:
    repo = LikeRepository(session)
    like = await repo.add(Like(user="ann", product="p", note="old"))
    await repo.delete(like.id)

    restored = await repo.add_if_absent(
        {"user": "ann", "product": "p", "note": "new"}, conflict=["user", "product"]
    )
    again = await repo.add_if_absent({"user": "ann", "product": "p"}, conflict=["user", "product"])

    assert restored is not None
    assert (restored.id, restored.deleted_at, restored.note) == (like.id, None, "new")
    assert again is None
    assert await repo.count(include_deleted=True) == 1


async def test_add_if_absent_on_a_soft_delete_model_needs_conflict(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="needs conflict="):
        await LikeRepository(session).add_if_absent({"user": "ann", "product": "p"})
    with pytest.raises(ValueError, match="no column"):
        await SubscriptionRepository(session).add_if_absent(FOLLOW, conflict=["colour"])
    with pytest.raises(ValueError, match=r"needs conflict=\[...\]: .* not 'follower'"):
        await SubscriptionRepository(session).add_if_absent(FOLLOW, conflict="follower")


# -- upsert with nothing to update ---------------------------------------------------------------


async def test_upsert_of_key_columns_only_returns_the_row(
    session: AsyncSession, sql: StatementLog
) -> None:
    repo = SubscriptionRepository(session)

    first = await repo.upsert(FOLLOW, conflict=["follower", "followed"])
    second = await repo.upsert(FOLLOW, conflict=["follower", "followed"])
    third = await repo.upsert(FOLLOW, conflict=["follower", "followed"], update=[])

    assert sql.count == 3
    assert first is second is third
    assert await repo.count() == 1


async def test_upsert_without_conflict_columns_says_what_it_needs(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match=r"needs conflict=\[...\]"):
        await SubscriptionRepository(session).upsert(FOLLOW, conflict=[])
    with pytest.raises(ValueError, match="no column"):
        await SubscriptionRepository(session).upsert(FOLLOW, conflict=["follower"], update=["x"])


# -- delete of a loaded instance -----------------------------------------------------------------


async def test_hard_delete_of_an_instance_is_one_statement_and_leaves_the_session(
    session: AsyncSession, sql: StatementLog
) -> None:
    repo = EventRepository(session)
    event = await repo.add(Event(kind="x"))
    sql.clear()

    await repo.delete(event)

    assert sql.count == 1
    assert sql.statements[0].startswith("DELETE")
    assert event not in session
    assert not inspect(event).persistent
    assert await repo.get_or_none(event.id) is None


async def test_soft_delete_of_an_instance_is_one_statement_refreshing_it(
    session: AsyncSession, sql: StatementLog
) -> None:
    repo = ProductRepository(session)
    added = await repo.add(product())
    sql.clear()

    await repo.delete(added)

    assert sql.count == 1
    assert added.deleted_at is not None
    assert added.version == 2
    assert added not in session.dirty
    assert await repo.get_or_none(added.id) is None


async def test_delete_of_a_composite_key_instance(session: AsyncSession) -> None:
    repo = SubscriptionRepository(session)
    kept = await repo.add(Subscription(follower="ann", followed="cy"))
    gone = await repo.add(Subscription(**FOLLOW))

    await repo.delete(gone)

    assert await repo.list() == [kept]


@pytest.mark.parametrize(
    ("repository", "make", "hard"),
    [
        (EventRepository, lambda: Event(kind="x"), True),
        (ProductRepository, product, False),
        (ProductRepository, product, True),
        (LikeRepository, lambda: Like(user="ann", product="p"), False),
        (SubscriptionRepository, lambda: Subscription(**FOLLOW), True),
    ],
    ids=["plain", "soft-versioned", "hard-versioned", "soft", "composite-key"],
)
async def test_delete_of_a_row_deleted_meanwhile_is_not_found(
    db: Database, repository: type, make: object, hard: bool
) -> None:
    async with db.session() as session:
        added = await repository(session).add(make())  # type: ignore[operator]
    key = inspect(added).identity
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        mine = await repository(first).get(key if len(key) > 1 else key[0])
        theirs = await repository(second).get(key if len(key) > 1 else key[0])
        await repository(first).delete(mine, hard=hard)
        await first.commit()

        with pytest.raises(NotFoundError):
            await repository(second).delete(theirs, hard=hard)


async def test_hard_delete_of_a_row_soft_deleted_meanwhile_is_not_found(db: Database) -> None:
    async with db.session() as session:
        added = await ProductRepository(session).add(product())
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        mine = await ProductRepository(first).get(added.id)
        theirs = await ProductRepository(second).get(added.id)
        await ProductRepository(first).delete(mine)
        await first.commit()

        with pytest.raises(NotFoundError):
            await ProductRepository(second).delete(theirs, hard=True)


async def test_delete_of_a_row_changed_meanwhile_is_stale(db: Database) -> None:
    async with db.session() as session:
        added = await ProductRepository(session).add(product())
    for hard in (False, True):
        async with db.sessionmaker() as first, db.sessionmaker() as second:
            mine = await ProductRepository(first).get(added.id)
            theirs = await ProductRepository(second).get(added.id)
            await ProductRepository(first).update(mine, {"price": mine.price + 1})
            await first.commit()

            with pytest.raises(StaleVersionError):
                await ProductRepository(second).delete(theirs, hard=hard)


async def test_delete_runs_the_orm_cascade_and_sees_a_vanished_parent(db: Database) -> None:
    async with db.session() as session:
        playlist = Playlist(name="mix", tracks=[Track(title="a"), Track(title="b")])
        await PlaylistRepository(session).add(playlist)
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        mine = await PlaylistRepository(first).get(playlist.id)
        theirs = await PlaylistRepository(second).get(playlist.id)
        await PlaylistRepository(first).delete(mine)
        await first.commit()

        with pytest.raises(NotFoundError):
            await PlaylistRepository(second).delete(theirs)
    async with db.sessionmaker() as session:
        assert (await session.scalars(select(Track))).all() == []


async def test_delete_runs_mapper_delete_listeners(session: AsyncSession) -> None:
    deleted: list[str] = []

    def record(_mapper: object, _connection: object, target: Event) -> None:
        deleted.append(target.kind)

    event.listen(Event, "after_delete", record)
    try:
        repo = EventRepository(session)
        await repo.delete(await repo.add(Event(kind="heard")))
    finally:
        event.remove(Event, "after_delete", record)

    assert deleted == ["heard"]
    assert await repo.count() == 0
