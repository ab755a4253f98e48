"""The ``users`` table."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from examples.orders.database import Model
from fastapi_pro.db import BigIntPrimaryKey, Timestamps


class Role(StrEnum):
    """What an account may do; access tokens carry it in their ``roles`` claim."""

    CUSTOMER = "customer"
    STAFF = "staff"


class User(BigIntPrimaryKey, Timestamps, Model):
    """An account that signs in with its email address and a password."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=Role.CUSTOMER,
    )
