"""Request and response bodies of the orders module."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from examples.orders.modules.bounds import Id, Integer
from examples.orders.modules.orders.models import OrderStatus

MAX_QUANTITY = 1000
"""The most of one product on one line."""

MAX_LINES = 50
"""The most lines on one order."""


class OrderLineIn(BaseModel):
    """A product and how many of it."""

    product_id: Id
    quantity: Integer = Field(ge=1, le=MAX_QUANTITY)


class OrderCreate(BaseModel):
    """A new order; prices are taken from the catalogue at this moment."""

    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)

    @model_validator(mode="after")
    def _one_line_per_product(self) -> Self:
        ids = [line.product_id for line in self.lines]
        if len(ids) != len(set(ids)):
            msg = "Each product may appear on one line only; add up the quantities instead."
            raise ValueError(msg)
        return self


class OrderLineOut(BaseModel):
    """A line as it was ordered."""

    model_config = ConfigDict(from_attributes=True)

    product_id: int
    product_name: str
    quantity: int
    unit_price_cents: int


class OrderOut(BaseModel):
    """An order with its lines."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    status: OrderStatus
    total_cents: int
    version: int
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineOut]
