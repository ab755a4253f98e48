from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from fastapi_pro.db import (
    Database,
    ForeignKeyViolationError,
    IntegrityViolationError,
    StaleVersionError,
    UniqueViolationError,
)
from fastapi_pro.errors import NotFoundError
from tests.db.conftest import StatementLog
from tests.db.models import (
    Category,
    CategoryRepository,
    Event,
    EventRepository,
    Product,
    ProductRepository,
)


def product(sku: str = "sku-1", price: int = 100, **values: object) -> Product:
    return Product(sku=sku, name=f"Product {sku}", price=price, **values)


async def seed(db: Database, count: int) -> list[Product]:
    async with db.session() as session:
        return await ProductRepository(session).add_many(
            product(f"sku-{i:03}", price=i + 1) for i in range(count)
        )


# -- reads ---------------------------------------------------------------------------------------


async def test_get_returns_the_row_typed_by_the_model(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    added = await repo.add(product())

    found = await repo.get(added.id)

    assert found is added
    assert isinstance(found, Product)


async def test_get_of_a_missing_id_names_model_and_id(session: AsyncSession) -> None:
    missing = uuid.uuid4()

    with pytest.raises(NotFoundError) as raised:
        await ProductRepository(session).get(missing)

    assert raised.value.detail == f"Product {missing} does not exist."
    assert raised.value.extensions == {"resource": "Product", "id": str(missing)}
    assert await ProductRepository(session).get_or_none(missing) is None


async def test_get_runs_one_select_on_a_cold_session(db: Database, sql: StatementLog) -> None:
    [added] = await seed(db, 1)
    sql.clear()
    async with db.sessionmaker() as session:
        await ProductRepository(session).get(added.id)

    assert sql.count == 1


async def test_find_one_and_filters(db: Database) -> None:
    await seed(db, 3)
    async with db.sessionmaker() as session:
        repo = ProductRepository(session)

        assert (await repo.find_one(sku="sku-001")).price == 2
        assert (await repo.find_one(Product.price > 2)).sku == "sku-002"
        assert await repo.find_one_or_none(sku="nope") is None
        with pytest.raises(NotFoundError, match="No Product matches"):
            await repo.find_one(sku="nope")


async def test_unknown_filter_names_the_known_columns(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match=r"no column\(s\) \['colour'\]"):
        await ProductRepository(session).list(colour="red")


async def test_list_count_and_exists(db: Database) -> None:
    await seed(db, 5)
    async with db.sessionmaker() as session:
        repo = ProductRepository(session)

        listed = await repo.list(Product.price >= 3, order_by=[Product.price.desc()], limit=2)
        assert [p.sku for p in listed] == ["sku-004", "sku-003"]
        assert await repo.count() == 5
        assert await repo.count(Product.price > 3) == 2
        assert await repo.exists(sku="sku-004")
        assert not await repo.exists(sku="sku-999")


async def test_loader_options_pass_through(db: Database, sql: StatementLog) -> None:
    async with db.session() as session:
        category = await CategoryRepository(session).add(Category(name="tools"))
        await ProductRepository(session).add(product(category_id=category.id))
    sql.clear()
    async with db.sessionmaker() as session:
        repo = ProductRepository(session)
        [loaded] = await repo.list(options=[selectinload(Product.category)])
        again = await repo.get(loaded.id, options=[selectinload(Product.category)])

    assert loaded.category is not None
    assert loaded.category.name == "tools"
    assert again is loaded
    assert sql.count == 2  # the list and its selectin load; get() hits the identity map


# -- writes --------------------------------------------------------------------------------------


async def test_add_fills_generated_columns_in_one_insert(
    session: AsyncSession, sql: StatementLog
) -> None:
    added = await ProductRepository(session).add(product())
    event = await EventRepository(session).add(Event(kind="created"))

    assert sql.count == 2  # one INSERT each, no re-SELECT
    assert added.id.version == 7
    assert added.version == 1
    assert added.created_at.tzinfo is not None
    assert isinstance(event.id, int)


async def test_add_many_sends_one_statement_per_thousand_rows(
    session: AsyncSession, sql: StatementLog
) -> None:
    rows = await ProductRepository(session).add_many(product(f"bulk-{i}") for i in range(1000))
    events = await EventRepository(session).add_many(Event(kind=f"e{i}") for i in range(1000))

    assert sql.count == 2
    assert len({p.id for p in rows}) == 1000
    assert {p.sku for p in rows} == {f"bulk-{i}" for i in range(1000)}
    assert all(p.version == 1 and p.created_at.tzinfo for p in rows)
    assert len({e.id for e in events}) == 1000
    assert await EventRepository(session).count() == 1000


async def test_add_many_keeps_related_objects(session: AsyncSession) -> None:
    category = Category(name="garden")
    [added] = await ProductRepository(session).add_many([product(category=category)])

    assert added.category_id == category.id is not None


async def test_add_many_of_nothing_sends_nothing(session: AsyncSession, sql: StatementLog) -> None:
    assert await ProductRepository(session).add_many([]) == []
    assert sql.count == 0


async def test_update_by_instance_is_one_statement_and_bumps_the_version(
    db: Database, sql: StatementLog
) -> None:
    [added] = await seed(db, 1)
    async with db.session() as session:
        loaded = await ProductRepository(session).get(added.id)
        sql.clear()
        updated = await ProductRepository(session).update(loaded, {"price": 42})

        assert sql.count == 1
        assert updated.price == 42
        assert updated.version == 2
        assert updated.updated_at >= added.updated_at


async def test_update_by_id_is_one_statement_returning_the_row(
    db: Database, sql: StatementLog
) -> None:
    [added] = await seed(db, 1)
    async with db.session() as session:
        sql.clear()
        updated = await ProductRepository(session).update(added.id, {"name": "New"})

        assert sql.count == 1
        assert updated.name == "New"
        assert updated.version == 2
        assert updated.updated_at > added.updated_at


async def test_update_with_a_stale_expected_version_is_refused(db: Database) -> None:
    [added] = await seed(db, 1)
    async with db.sessionmaker() as session:
        repo = ProductRepository(session)
        with pytest.raises(StaleVersionError) as by_id:
            await repo.update(added.id, {"price": 5}, expected_version=7)
        loaded = await repo.get(added.id)
        with pytest.raises(StaleVersionError):
            await repo.update(loaded, {"price": 5}, expected_version=7)

    assert by_id.value.status == 409
    assert by_id.value.extensions["expected_version"] == 7


async def test_update_of_a_missing_id_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError):
        await ProductRepository(session).update(uuid.uuid4(), {"price": 5}, expected_version=1)


async def test_update_of_a_soft_deleted_row_is_not_found_not_stale(db: Database) -> None:
    [gone] = await seed(db, 1)
    async with db.session() as session:
        await ProductRepository(session).delete(gone.id)

    async with db.sessionmaker() as session:
        repo = ProductRepository(session)
        assert not await repo.exists(ProductRepository._pk == gone.id)
        with pytest.raises(NotFoundError):
            await repo.update(gone.id, {"price": 5}, expected_version=gone.version)


async def test_concurrent_updates_with_one_expected_version_let_exactly_one_win(
    db: Database,
) -> None:
    [added] = await seed(db, 1)

    async def buy(price: int) -> str:
        try:
            async with db.session() as session:
                await ProductRepository(session).update(
                    added.id, {"price": price}, expected_version=1
                )
        except StaleVersionError:
            return "conflict"
        return "won"

    outcomes = await asyncio.gather(buy(10), buy(20))

    assert sorted(outcomes) == ["conflict", "won"]
    async with db.sessionmaker() as session:
        final = await ProductRepository(session).get(added.id)
    assert final.version == 2
    assert final.price in (10, 20)


async def test_concurrent_instance_updates_detect_the_lost_update(db: Database) -> None:
    [added] = await seed(db, 1)
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        mine = await ProductRepository(first).get(added.id)
        theirs = await ProductRepository(second).get(added.id)
        await ProductRepository(first).update(mine, {"price": 11})
        await first.commit()

        with pytest.raises(StaleVersionError):
            await ProductRepository(second).update(theirs, {"price": 22})


async def test_update_many_counts_rows_and_bumps_versions(db: Database) -> None:
    await seed(db, 4)
    async with db.session() as session:
        changed = await ProductRepository(session).update_many(
            {"name": "cheap"}, Product.price <= 2
        )
    async with db.sessionmaker() as session:
        cheap = await ProductRepository(session).list(name="cheap")

    assert changed == 2
    assert {p.version for p in cheap} == {2}


async def test_upsert_inserts_then_updates_in_one_statement_each(
    session: AsyncSession, sql: StatementLog
) -> None:
    repo = ProductRepository(session)
    first = await repo.upsert({"sku": "u-1", "name": "One", "price": 1}, conflict=["sku"])
    second = await repo.upsert({"sku": "u-1", "name": "Uno", "price": 2}, conflict=["sku"])

    assert sql.count == 2
    assert second.id == first.id
    assert (second.name, second.price, second.version) == ("Uno", 2, 2)
    assert await repo.count() == 1


async def test_upsert_restores_a_soft_deleted_row(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    first = await repo.upsert({"sku": "u-2", "name": "A", "price": 1}, conflict=["sku"])
    await repo.delete(first.id)

    revived = await repo.upsert({"sku": "u-2", "name": "B", "price": 1}, conflict=["sku"])

    assert revived.deleted_at is None
    assert (await repo.get(first.id)).name == "B"


async def test_upsert_on_a_composite_unique_key(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    values = {"sku": "c-1", "name": "A", "price": 1, "vendor": "v", "code": "x"}
    await repo.upsert(values, conflict=["vendor", "code"])
    again = await repo.upsert({**values, "price": 9}, conflict=["vendor", "code"], update=["price"])

    assert again.price == 9


# -- deletes -------------------------------------------------------------------------------------


async def test_soft_deleted_rows_never_appear_in_reads(db: Database) -> None:
    kept, gone = await seed(db, 2)
    async with db.session() as session:
        await ProductRepository(session).delete(gone.id)

    async with db.sessionmaker() as session:
        repo = ProductRepository(session)
        assert await repo.get_or_none(gone.id) is None
        with pytest.raises(NotFoundError):
            await repo.get(gone.id)
        assert [p.id for p in await repo.list()] == [kept.id]
        assert await repo.count() == 1
        assert not await repo.exists(sku=gone.sku)
        assert await repo.find_one_or_none(sku=gone.sku) is None
        raw = (await session.scalars(select(Product))).all()
        assert [p.id for p in raw] == [kept.id]

        assert (await repo.get(gone.id, include_deleted=True)).deleted_at is not None
        assert await repo.count(include_deleted=True) == 2


async def test_soft_deleted_rows_are_hidden_in_the_same_session(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    added = await repo.add(product())
    await repo.delete(added)

    assert await repo.get_or_none(added.id) is None
    assert added.is_deleted


async def test_soft_deleted_rows_are_not_updated_by_update_many(db: Database) -> None:
    _, gone = await seed(db, 2)
    async with db.session() as session:
        repo = ProductRepository(session)
        await repo.delete(gone.id)
        assert await repo.update_many({"name": "x"}) == 1


async def test_restore_brings_a_row_back(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    added = await repo.add(product())
    await repo.delete(added.id)

    restored = await repo.restore(added.id)

    assert restored.deleted_at is None
    assert await repo.get(added.id) is restored
    with pytest.raises(NotFoundError):
        await repo.restore(added.id)


async def test_hard_delete_removes_the_row(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    soft, hard = await repo.add(product("a")), await repo.add(product("b"))
    await repo.delete(soft.id)

    await repo.delete(hard, hard=True)
    removed = await repo.delete_many(hard=True, sku="a")

    assert removed == 1
    assert await repo.count(include_deleted=True) == 0


async def test_delete_of_plain_rows_by_id_and_missing_id(session: AsyncSession) -> None:
    repo = EventRepository(session)
    event = await repo.add(Event(kind="x"))

    await repo.delete(event.id)

    assert await repo.count() == 0
    with pytest.raises(NotFoundError):
        await repo.delete(event.id)


async def test_delete_many_soft_deletes_matching_rows(db: Database) -> None:
    await seed(db, 3)
    async with db.session() as session:
        assert await ProductRepository(session).delete_many(Product.price < 3) == 2
        assert await ProductRepository(session).count() == 1


# -- errors --------------------------------------------------------------------------------------


async def test_unique_violation_names_the_field_not_the_value(db: Database) -> None:
    await seed(db, 1)
    with pytest.raises(UniqueViolationError) as raised:
        async with db.session() as session:
            await ProductRepository(session).add(product("sku-000"))

    error = raised.value
    assert error.status == 409
    assert error.extensions["fields"] == ["sku"]
    assert "sku-000" not in str(error.detail)
    if db.dialect == "postgresql":
        assert error.extensions["constraint"] == "uq_products_sku"


async def test_composite_unique_violation_names_every_field(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    await repo.add(product("a", vendor="v", code="c"))

    with pytest.raises(UniqueViolationError) as raised:
        await repo.add(product("b", vendor="v", code="c"))

    assert raised.value.extensions["fields"] == ["vendor", "code"]


async def test_foreign_key_violation_is_a_conflict(session: AsyncSession) -> None:
    with pytest.raises(ForeignKeyViolationError) as raised:
        await ProductRepository(session).add(product(category_id=999))

    assert raised.value.status == 409


async def test_check_and_not_null_violations_are_unprocessable(db: Database) -> None:
    async with db.sessionmaker() as session:
        with pytest.raises(IntegrityViolationError) as check:
            await ProductRepository(session).add(product(price=0))
    async with db.sessionmaker() as session:
        with pytest.raises(IntegrityViolationError) as not_null:
            await ProductRepository(session).add(Product(sku="n", price=1))

    assert check.value.status == 422
    assert not_null.value.status == 422


async def test_a_join_to_soft_deleted_rows_finds_nothing(db: Database) -> None:
    async with db.session() as session:
        category = await CategoryRepository(session).add(Category(name="gone"))
        product_ = await ProductRepository(session).add(product(category_id=category.id))
        await ProductRepository(session).delete(product_.id)
    async with db.sessionmaker() as session:
        joined = select(Category).join(Product, Product.category_id == Category.id)
        found = (await session.scalars(joined)).all()
        with_deleted = (await session.scalars(joined.execution_options(include_deleted=True))).all()

    assert found == []
    assert [c.name for c in with_deleted] == ["gone"]


async def test_statements_on_plain_models_are_left_alone(
    session: AsyncSession, sql: StatementLog
) -> None:
    await EventRepository(session).list(kind="x")
    await EventRepository(session).count()

    assert all("deleted_at" not in statement for statement in sql.statements)


async def test_add_many_takes_mappings_too(session: AsyncSession, sql: StatementLog) -> None:
    rows = await ProductRepository(session).add_many(
        {"sku": f"map-{i}", "name": "n", "price": i + 1} for i in range(5)
    )

    assert sql.count == 1
    assert sorted(p.sku for p in rows) == [f"map-{i}" for i in range(5)]
    assert all(p.id.version == 7 and p.version == 1 for p in rows)
    with pytest.raises(ValueError, match="no column"):
        await ProductRepository(session).add_many([{"sku": "x", "colour": "red"}])


async def test_relationship_loads_hide_soft_deleted_rows(db: Database) -> None:
    async with db.session() as session:
        category = await CategoryRepository(session).add(Category(name="tools"))
        kept = await ProductRepository(session).add(product("kept", category_id=category.id))
        gone = await ProductRepository(session).add(product("gone", category_id=category.id))
        await ProductRepository(session).delete(gone.id)
    async with db.sessionmaker() as session:
        [loaded] = await CategoryRepository(session).list(options=[selectinload(Category.products)])
        fetched = await CategoryRepository(session).get(
            category.id, options=[selectinload(Category.products)]
        )

    assert [p.id for p in loaded.products] == [kept.id]
    assert fetched is loaded
