"""The ``products`` table."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from examples.orders.database import Model
from fastapi_pro.db import BigIntPrimaryKey, SoftDelete, Timestamps, Versioned


class Product(BigIntPrimaryKey, Timestamps, SoftDelete, Versioned, Model):
    """Something for sale. Deleting hides it (``deleted_at``); past orders keep their lines.

    Every update bumps ``version``, and an update that names an older version is refused.
    """

    __tablename__ = "products"
    __table_args__ = (CheckConstraint("price_cents >= 0", name="price_not_negative"),)

    sku: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger())
