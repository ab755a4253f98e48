"""Racing transitions of one order, with real commits on real connections.

These tests stay out of the plugin's rolled-back transaction (``fastapi_pro_no_rollback``):
requests sharing one connection could not race. The app's sessions are real, so the rows are
committed and deleted again afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete, event, select, update

from examples.orders.modules.orders.models import Order, OrderLine, OrderStatus
from examples.orders.modules.products.models import Product
from examples.orders.modules.users.models import Role, User
from fastapi_pro.db import Database
from fastapi_pro.testing import assert_problem, served_app
from tests.examples.orders.helpers import PASSWORD_HASH, Headers

pytestmark = pytest.mark.fastapi_pro_no_rollback


@pytest_asyncio.fixture(loop_scope="session")
async def client(fastapi_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app outside any test transaction: every request commits for real."""
    transport = httpx.ASGITransport(app=served_app(fastapi_app), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def pending_order(
    fastapi_database: Database, auth_headers: Callable[..., Headers]
) -> AsyncIterator[tuple[int, Headers]]:
    """A customer's pending order, committed; it and its customer are deleted after the test."""
    async with fastapi_database.session() as session:
        user = User(email="racer@example.com", password_hash=PASSWORD_HASH, role=Role.CUSTOMER)
        product = Product(sku="RACE-1", name="Race car", price_cents=100)
        session.add_all([user, product])
        await session.flush()
        line = OrderLine(
            product_id=product.id, product_name=product.name, quantity=1, unit_price_cents=100
        )
        order = Order(customer_id=user.id, total_cents=100, lines=[line])
        session.add(order)
    try:
        yield order.id, auth_headers(str(user.id), roles=[Role.CUSTOMER.value])
    finally:
        async with fastapi_database.session() as session:
            await session.execute(delete(OrderLine).where(OrderLine.order_id == order.id))
            await session.execute(delete(Order).where(Order.id == order.id))
            await session.execute(delete(Product).where(Product.id == product.id))
            await session.execute(delete(User).where(User.id == user.id))


class OrderUpdates:
    """Counts the ``UPDATE orders`` statements the app sends, as they are sent."""

    def __init__(self) -> None:
        self.sent = 0
        self._expected = 0
        self._reached = asyncio.Event()

    def record(self, *args: Any) -> None:
        statement: str = args[2]
        if statement.lstrip().upper().startswith("UPDATE ORDERS"):
            self.sent += 1
            if self.sent >= self._expected:
                self._reached.set()

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` statements were sent in all."""
        self._expected = count
        if self.sent < count:
            self._reached.clear()
            await self._reached.wait()


@pytest.fixture
def order_updates(fastapi_database: Database) -> Iterator[OrderUpdates]:
    updates = OrderUpdates()
    engine = fastapi_database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", updates.record)
    yield updates
    event.remove(engine, "before_cursor_execute", updates.record)


@asynccontextmanager
async def order_locked(database_url: str, order_id: int) -> AsyncIterator[None]:
    """Hold a write lock on the order from another engine until the block ends.

    A do-nothing UPDATE locks the row on PostgreSQL and takes the write lock on SQLite, so the
    requests started in the block all wait at their own UPDATE and are released together.
    """
    holder = Database(database_url)
    try:
        async with holder.engine.connect() as connection:
            await connection.execute(
                update(Order).where(Order.id == order_id).values(version=Order.version)
            )
            yield
            await connection.rollback()
    finally:
        await holder.dispose()


async def race(
    client: httpx.AsyncClient,
    requests: list[tuple[str, Headers]],
    *,
    database_url: str,
    order_id: int,
    updates: OrderUpdates,
) -> list[httpx.Response]:
    """Send ``requests`` at once; release them only when every one is waiting at its UPDATE."""
    async with order_locked(database_url, order_id):
        tasks = [
            asyncio.create_task(client.post(url, headers=headers)) for url, headers in requests
        ]
        async with asyncio.timeout(10):
            await updates.wait_for(len(requests))
    return list(await asyncio.gather(*tasks))


async def current_status(database: Database, order_id: int) -> OrderStatus:
    async with database.session() as session:
        status = await session.scalar(select(Order.status).where(Order.id == order_id))
    assert status is not None
    return status


@pytest.mark.parametrize("payers", [2, 8])
async def test_of_concurrent_payments_of_one_order_exactly_one_succeeds(
    *,
    client: httpx.AsyncClient,
    fastapi_database: Database,
    fastapi_database_url: str,
    pending_order: tuple[int, Headers],
    order_updates: OrderUpdates,
    payers: int,
) -> None:
    order_id, headers = pending_order
    url = f"/orders/{order_id}/pay"

    responses = await race(
        client,
        [(url, headers)] * payers,
        database_url=fastapi_database_url,
        order_id=order_id,
        updates=order_updates,
    )

    paid = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(paid) == 1
    assert paid[0].json()["version"] == 2
    for response in refused:
        assert_problem(response, 409, code="invalid_transition", current_status="paid")
    assert await current_status(fastapi_database, order_id) == OrderStatus.PAID


async def test_a_payment_racing_a_cancellation_lets_exactly_one_win(
    client: httpx.AsyncClient,
    fastapi_database: Database,
    fastapi_database_url: str,
    pending_order: tuple[int, Headers],
    order_updates: OrderUpdates,
) -> None:
    order_id, headers = pending_order

    pay, cancel = await race(
        client,
        [(f"/orders/{order_id}/pay", headers), (f"/orders/{order_id}/cancel", headers)],
        database_url=fastapi_database_url,
        order_id=order_id,
        updates=order_updates,
    )

    winner, loser = (pay, cancel) if pay.status_code == 200 else (cancel, pay)
    assert winner.status_code == 200
    final = winner.json()["status"]
    assert_problem(loser, 409, code="invalid_transition", current_status=final)
    assert await current_status(fastapi_database, order_id) == OrderStatus(final)


# A crowd of racers: more than the pool holds connections, so they cannot all be made to wait
# at their UPDATE together (as `race` does); they are sent at once and left to collide.
CROWD = 50


async def crowd(
    client: httpx.AsyncClient, method: str, url: str, headers: Headers, **kwargs: Any
) -> list[httpx.Response]:
    """Send ``CROWD`` identical requests at once."""
    requests = [client.request(method, url, headers=headers, **kwargs) for _ in range(CROWD)]
    async with asyncio.timeout(60):
        return list(await asyncio.gather(*requests))


@pytest_asyncio.fixture(loop_scope="session")
async def staff_headers(
    fastapi_database: Database, auth_headers: Callable[..., Headers]
) -> AsyncIterator[Headers]:
    """A staff member's bearer token; the account is deleted after the test."""
    async with fastapi_database.session() as session:
        user = User(email="racing-staff@example.com", password_hash=PASSWORD_HASH, role=Role.STAFF)
        session.add(user)
    try:
        yield auth_headers(str(user.id), roles=[Role.STAFF.value])
    finally:
        async with fastapi_database.session() as session:
            await session.execute(delete(User).where(User.id == user.id))


async def test_of_a_crowd_paying_one_order_exactly_one_succeeds(
    client: httpx.AsyncClient,
    fastapi_database: Database,
    pending_order: tuple[int, Headers],
) -> None:
    order_id, headers = pending_order

    responses = await crowd(client, "POST", f"/orders/{order_id}/pay", headers)

    paid = [r for r in responses if r.status_code == 200]
    assert len(paid) == 1
    assert paid[0].json()["version"] == 2
    for response in responses:
        if response is not paid[0]:
            assert_problem(response, 409, code="invalid_transition", current_status="paid")
    assert await current_status(fastapi_database, order_id) == OrderStatus.PAID


async def test_of_a_crowd_updating_one_version_of_a_product_exactly_one_succeeds(
    client: httpx.AsyncClient,
    fastapi_database: Database,
    pending_order: tuple[int, Headers],
    staff_headers: Headers,
) -> None:
    async with fastapi_database.session() as session:
        product = await session.scalar(select(Product).where(Product.sku == "RACE-1"))
    assert product is not None
    assert product.version == 1

    responses = await crowd(
        client,
        "PATCH",
        f"/products/{product.id}",
        staff_headers,
        json={"version": 1, "price_cents": 250},
    )

    updated = [r for r in responses if r.status_code == 200]
    assert len(updated) == 1
    assert updated[0].json()["version"] == 2
    for response in responses:
        if response is not updated[0]:
            assert_problem(response, 409, code="stale_version", expected_version=1)
    async with fastapi_database.session() as session:
        stored = await session.get_one(Product, product.id)
    assert (stored.version, stored.price_cents) == (2, 250)


async def test_a_shipment_racing_a_refund_lets_exactly_one_win(
    *,
    client: httpx.AsyncClient,
    fastapi_database: Database,
    fastapi_database_url: str,
    pending_order: tuple[int, Headers],
    staff_headers: Headers,
    order_updates: OrderUpdates,
) -> None:
    order_id, _ = pending_order
    async with fastapi_database.session() as session:
        await session.execute(
            update(Order).where(Order.id == order_id).values(status=OrderStatus.PAID)
        )
    order_updates.sent = 0  # count only the racers' UPDATEs

    url = f"/orders/{order_id}"
    ship, refund = await race(
        client,
        [(f"{url}/ship", staff_headers), (f"{url}/refund", staff_headers)],
        database_url=fastapi_database_url,
        order_id=order_id,
        updates=order_updates,
    )

    winner, loser = (ship, refund) if ship.status_code == 200 else (refund, ship)
    assert winner.status_code == 200
    final = winner.json()["status"]
    assert final in {"shipped", "refunded"}
    assert_problem(loser, 409, code="invalid_transition", current_status=final)
    assert await current_status(fastapi_database, order_id) == OrderStatus(final)
