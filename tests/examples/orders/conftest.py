"""The orders example under the fastapi-pro pytest plugin, on SQLite and on PostgreSQL.

Every test runs once per backend: the session-scoped ``fastapi_database_url`` is parametrized,
so the app is built, started and stopped once for each. Tests that use ``fastapi_client`` or
``fastapi_session`` run inside the plugin's rolled-back transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from examples.orders.database import Model
from examples.orders.modules.orders.models import Order, OrderLine, OrderStatus
from examples.orders.modules.products.models import Product
from examples.orders.modules.users.models import Role, User
from fastapi_pro.testing import run_app
from tests.examples.orders.helpers import (
    PASSWORD_HASH,
    Headers,
    HeadersFor,
    OrderFactory,
    ProductFactory,
    UserFactory,
    build_app,
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

_serial = itertools.count(1)


@pytest.fixture(scope="session", params=BACKENDS)
def fastapi_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('orders') / 'orders.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fastapi_app(fastapi_database_url: str) -> AsyncIterator[FastAPI]:
    app = build_app(fastapi_database_url)
    async with run_app(app, database_url=fastapi_database_url, metadata=Model.metadata):
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def make_user(fastapi_session: AsyncSession) -> UserFactory:
    """Adds an account to the test's transaction; its password is `helpers.PASSWORD`."""

    async def make(role: Role = Role.CUSTOMER, *, email: str | None = None) -> User:
        address = email or f"{role.value}{next(_serial)}@example.com"
        user = User(email=address, password_hash=PASSWORD_HASH, role=role)
        fastapi_session.add(user)
        await fastapi_session.commit()
        return user

    return make


@pytest_asyncio.fixture(loop_scope="session")
async def customer(make_user: UserFactory) -> User:
    return await make_user(Role.CUSTOMER)


@pytest_asyncio.fixture(loop_scope="session")
async def other_customer(make_user: UserFactory) -> User:
    return await make_user(Role.CUSTOMER)


@pytest_asyncio.fixture(loop_scope="session")
async def staff(make_user: UserFactory) -> User:
    return await make_user(Role.STAFF)


@pytest.fixture
def headers_for(auth_headers: Callable[..., Headers]) -> HeadersFor:
    """A bearer token for a user, carrying its role, as ``POST /auth/token`` issues them."""

    def headers(user: User) -> Headers:
        return auth_headers(str(user.id), roles=[user.role.value])

    return headers


@pytest_asyncio.fixture(loop_scope="session")
async def make_product(fastapi_session: AsyncSession) -> ProductFactory:
    async def make(*, name: str | None = None, price_cents: int = 1000) -> Product:
        number = next(_serial)
        product = Product(
            sku=f"SKU-{number}", name=name or f"Product {number}", price_cents=price_cents
        )
        fastapi_session.add(product)
        await fastapi_session.commit()
        return product

    return make


@pytest_asyncio.fixture(loop_scope="session")
async def make_order(fastapi_session: AsyncSession, make_product: ProductFactory) -> OrderFactory:
    """Adds an order with one line, in any status (the API reaches most only step by step)."""

    async def make(owner: User, status: OrderStatus = OrderStatus.PENDING) -> Order:
        product = await make_product(price_cents=500)
        line = OrderLine(
            product_id=product.id, product_name=product.name, quantity=2, unit_price_cents=500
        )
        order = Order(customer_id=owner.id, status=status, total_cents=1000, lines=[line])
        fastapi_session.add(order)
        await fastapi_session.commit()
        return order

    return make
