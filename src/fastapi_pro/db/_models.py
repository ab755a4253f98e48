"""The declarative ``Base`` and column mixins: keys, timestamps, soft delete, versions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import GetCoreSchemaHandler, PydanticSchemaGenerationError
from pydantic_core import CoreSchema
from sqlalchemy import BigInteger, DateTime, FromClause, Integer, MetaData, Uuid
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from fastapi_pro.db._page_model import schema_advice
from fastapi_pro.db._uuid7 import uuid7

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so Alembic can diff and drop them and errors can name them."""


SOFT_DELETE_TABLES: set[Any] = set()
"""Tables of `SoftDelete` models; statements touching none of them skip the filter."""

SOFT_DELETE_MAPPED: list[Callable[[], None]] = []
"""Called whenever a `SoftDelete` model is mapped: the session filter installs itself then, so
apps without one pay nothing for it."""


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime that comes back aware on every backend (SQLite included).

    Naive values are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"Naive datetime {value!r} given for a timezone-aware column; attach a tzinfo."
            raise ValueError(msg)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base with a constraint naming convention and aware datetimes.

    Example:
        ```python
        class Order(UUIDPrimaryKey, Timestamps, Base):
            __tablename__ = "orders"
            total: Mapped[int]
        ```
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), uuid.UUID: Uuid()}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Refuse a model as a response model or pydantic field, naming the schema to declare.

        Models that allow arbitrary types still hold rows (an ``isinstance`` check).
        """
        try:
            return handler(source)
        except PydanticSchemaGenerationError:
            advice = schema_advice(cls, cls.__name__)
            msg = f"{cls.__name__} cannot be a response model or a field: {advice}"
            raise TypeError(msg) from None


class UUIDPrimaryKey:
    """An ``id`` primary key holding a version-7 UUID, generated in Python before insert."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid7, sort_order=-10)


class BigIntPrimaryKey:
    """An auto-incrementing ``id`` primary key (BIGINT; INTEGER on SQLite, for its rowid)."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, sort_order=-10
    )


class Timestamps:
    """``created_at`` and ``updated_at``, timezone-aware, set by the application on write."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, sort_order=90)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, sort_order=91
    )


class SoftDelete:
    """A ``deleted_at`` column; rows with it set are hidden from every ORM read.

    Pass ``execution_options(include_deleted=True)`` (or ``include_deleted=True`` to a
    `Repository` method) to see them.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=None, index=True, sort_order=92
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # maps the class when a declarative base follows
        table = getattr(cls, "__table__", None)
        if table is not None:
            SOFT_DELETE_TABLES.add(table)
            for callback in SOFT_DELETE_MAPPED:
                callback()

    @property
    def is_deleted(self) -> bool:
        """Whether the row is soft-deleted."""
        return self.deleted_at is not None


class Versioned:
    """A ``version`` column used for optimistic locking: every UPDATE checks and bumps it.

    A concurrent change makes the write fail with a `StaleVersionError` (409).
    """

    version: Mapped[int] = mapped_column(Integer(), nullable=False, default=1, sort_order=93)

    if TYPE_CHECKING:  # the table of the mapped class it is mixed into, as `DeclarativeBase` has
        __table__: ClassVar[FromClause]

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - a declared_attr takes the class
        return {"version_id_col": cls.__table__.c.version}
