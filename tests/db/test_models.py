from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.db import Base, Database, UTCDateTime, uuid7
from tests.db.models import Event, Product, ProductRepository


def test_uuid7_is_a_real_version_7_uuid() -> None:
    value = uuid7()

    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    millis = value.int >> 80
    assert abs(millis - time.time() * 1000) < 1000


def test_uuid7_is_strictly_increasing_within_a_process() -> None:
    values = [uuid7() for _ in range(20_000)]

    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_constraint_names_follow_the_naming_convention() -> None:
    table = Product.__table__
    names = {c.name for c in table.constraints}  # type: ignore[attr-defined]

    assert {
        "pk_products",
        "uq_products_sku",
        "uq_products_vendor_code",
        "ck_products_price_positive",
        "fk_products_category_id_categories",
    } <= names
    assert Base.metadata.naming_convention["ix"] == "ix_%(column_0_label)s"


async def test_timestamps_are_timezone_aware_after_a_round_trip(db: Database) -> None:
    async with db.session() as session:
        added = await ProductRepository(session).add(Product(sku="a", name="a", price=1))
    async with db.sessionmaker() as session:
        loaded = await ProductRepository(session).get(added.id)

    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at == added.created_at
    assert loaded.updated_at >= loaded.created_at


async def test_naive_datetimes_are_refused(session: AsyncSession) -> None:
    with pytest.raises(Exception, match="Naive datetime"):
        await session.execute(
            select(Product).where(Product.created_at > datetime(2026, 1, 1))  # noqa: DTZ001
        )


def test_utc_datetime_converts_other_zones_to_utc() -> None:
    from datetime import timedelta, timezone  # noqa: PLC0415 - local to this check

    column = UTCDateTime()
    paris = datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))

    assert column.process_bind_param(paris, None) == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert column.process_result_value(datetime(2026, 6, 1, 10), None) == datetime(  # noqa: DTZ001
        2026, 6, 1, 10, tzinfo=UTC
    )


async def test_uuid_columns_round_trip_on_every_backend(session: AsyncSession) -> None:
    ref = uuid7()
    session.add(Event(kind="x", ref=ref))
    await session.flush()

    assert await session.scalar(select(Event.ref)) == ref
