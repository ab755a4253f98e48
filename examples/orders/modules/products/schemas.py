"""Request and response bodies of the products module."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from examples.orders.modules.bounds import Integer, Omittable, Version

MAX_PRICE_CENTS = 100_000_000
"""The dearest product: one million in the currency's main unit."""


class ProductCreate(BaseModel):
    """A new product."""

    sku: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._-]+$", examples=["MUG-01"])
    name: str = Field(min_length=1, max_length=200)
    price_cents: Integer = Field(ge=0, le=MAX_PRICE_CENTS, description="Price in cents.")


class ProductUpdate(BaseModel):
    """A change to a product; ``version`` is the one the change was based on."""

    version: Version = Field(description="The version read; a newer one in the database: 409.")
    name: str = Omittable(min_length=1, max_length=200)
    price_cents: Integer = Omittable(ge=0, le=MAX_PRICE_CENTS)


class ProductOut(BaseModel):
    """A product as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    price_cents: int
    version: int
    created_at: datetime
    updated_at: datetime
