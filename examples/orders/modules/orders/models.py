"""The ``orders`` and ``order_lines`` tables, and the order life cycle."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examples.orders.database import Model
from fastapi_pro.db import BigIntPrimaryKey, Timestamps, Versioned


class OrderStatus(StrEnum):
    """Where an order is in its life cycle."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class Action(StrEnum):
    """What can happen to an order; each action is one endpoint."""

    PAY = "pay"
    CANCEL = "cancel"
    SHIP = "ship"
    DELIVER = "deliver"
    REFUND = "refund"


TRANSITIONS: dict[Action, tuple[frozenset[OrderStatus], OrderStatus]] = {
    Action.PAY: (frozenset({OrderStatus.PENDING}), OrderStatus.PAID),
    Action.CANCEL: (frozenset({OrderStatus.PENDING}), OrderStatus.CANCELLED),
    Action.SHIP: (frozenset({OrderStatus.PAID}), OrderStatus.SHIPPED),
    Action.DELIVER: (frozenset({OrderStatus.SHIPPED}), OrderStatus.DELIVERED),
    Action.REFUND: (frozenset({OrderStatus.PAID, OrderStatus.DELIVERED}), OrderStatus.REFUNDED),
}
"""The state machine: for each action, the states it may start from and the state it leads to."""


def _enum(enum: type[StrEnum]) -> Enum:
    return Enum(enum, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class OrderLine(BigIntPrimaryKey, Model):
    """One product of an order, with the name and unit price it had when the order was placed."""

    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    product_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int] = mapped_column(BigInteger())


class Order(BigIntPrimaryKey, Timestamps, Versioned, Model):
    """A customer's order. ``status`` only changes through the transitions in `TRANSITIONS`."""

    __tablename__ = "orders"

    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        _enum(OrderStatus), default=OrderStatus.PENDING, index=True
    )
    # Up to MAX_LINES x MAX_QUANTITY x MAX_PRICE_CENTS = 5 * 10**12: beyond INTEGER, so BIGINT.
    total_cents: Mapped[int] = mapped_column(BigInteger())
    lines: Mapped[list[OrderLine]] = relationship(
        lazy="raise", order_by=OrderLine.id, cascade="all, delete-orphan"
    )
