"""Shared by the orders example's tests: the app's settings, passwords and small types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import SecretStr

from examples.orders.main import create_app
from examples.orders.modules.orders.models import Order, OrderStatus
from examples.orders.modules.products.models import Product
from examples.orders.modules.users.models import Role, User
from fastapi_pro import Settings
from fastapi_pro.auth import PasswordHasher
from fastapi_pro.settings import AuthSettings, DatabaseSettings, ObservabilitySettings

SECRET = "orders-example-test-secret-of-32-bytes-or-more"
PASSWORD = "correct horse battery staple"

# Argon2id at its cheapest: these tests check behaviour, not the cost of hashing.
FAST_ARGON2 = PasswordHash((Argon2Hasher(memory_cost=1024, time_cost=1, parallelism=1),))
PASSWORD_HASH = FAST_ARGON2.hash(PASSWORD)

Headers = dict[str, str]
HeadersFor = Callable[[User], Headers]
ProductFactory = Callable[..., Awaitable[Product]]


class UserFactory(Protocol):
    async def __call__(self, role: Role = Role.CUSTOMER, *, email: str | None = None) -> User: ...


class OrderFactory(Protocol):
    async def __call__(self, owner: User, status: OrderStatus = OrderStatus.PENDING) -> Order: ...


def settings_for(database_url: str) -> Settings:
    """The app's settings in tests: this database, a fixed key, process logging left alone."""
    return Settings(
        environment="test",
        database=DatabaseSettings(url=SecretStr(database_url)),
        auth=AuthSettings(secret_key=SecretStr(SECRET)),
        observability=ObservabilitySettings(logging_enabled=False, access_log_enabled=False),
    )


def build_app(database_url: str) -> FastAPI:
    """The orders app on ``database_url``, with cheap password hashing."""
    hasher = PasswordHasher(FAST_ARGON2, nice=0)
    return create_app(settings_for(database_url), password_hasher=hasher)
