"""The orders example on a scratch PostgreSQL database, served by uvicorn on a free port.

The server runs its own event loop in a thread, so the clients of a test (raw sockets, httpx)
share nothing with it but the network, and the test can still read the app's pool.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI

from examples.orders.main import create_app
from examples.orders.modules.products.models import Product
from examples.orders.modules.users.models import Role, User
from fastapi_pro.auth import PasswordHasher
from fastapi_pro.db import Database
from tests.examples.orders.helpers import FAST_ARGON2, PASSWORD, PASSWORD_HASH, settings_for

POOL_SIZE = 10
"""The app's pool: this many connections and no overflow."""


@dataclass(frozen=True)
class ServedOrders:
    """A running orders service and what the tests need to drive and inspect it."""

    app: FastAPI
    base_url: str
    port: int
    database_name: str
    admin_url: str
    product_prices: dict[int, int]

    @property
    def pool(self) -> Any:
        return Database.of(self.app).engine.pool

    def checked_out(self) -> int:
        """Connections the app holds right now."""
        return int(self.pool.checkedout())

    async def idle_in_transaction(self) -> int:
        """Sessions on the service's database left inside a transaction, doing nothing."""
        connection = await asyncpg.connect(self.admin_url)
        try:
            count = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = $1 AND state LIKE 'idle in transaction%'",
                self.database_name,
            )
        finally:
            await connection.close()
        return int(count)

    async def settled(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a bounded wait
        """Wait until the app holds no connection (requests still running finish first)."""
        deadline = time.monotonic() + timeout
        while self.checked_out() and time.monotonic() < deadline:  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.05)

    def login(self, email: str) -> dict[str, str]:
        """A customer account with ``email`` and a bearer token for it, from ``/auth/token``."""
        asyncio.run(_add(self.app, User(email=email, password_hash=PASSWORD_HASH)))
        response = httpx.post(
            f"{self.base_url}/auth/token", data={"username": email, "password": PASSWORD}
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _add(app: FastAPI, *rows: Any) -> None:
    # A Database of its own: the app's pool lives in the server's event loop.
    database = Database(Database.of(app).url, pool_size=1)
    try:
        async with database.session() as session:
            session.add_all(rows)
    finally:
        await database.dispose()


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def served_orders(postgres_url: str) -> Iterator[ServedOrders]:
    """Create a database, serve the orders example on it with a pool of `POOL_SIZE`, and drop it."""
    name = f"fastapi_pro_orders_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        base = postgres_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        with _serving(_app(f"{base}/{name}")) as (app, port):
            prices = _seed(app)
            yield ServedOrders(app, f"http://127.0.0.1:{port}", port, name, postgres_url, prices)
    finally:
        asyncio.run(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _app(database_url: str) -> FastAPI:
    settings = settings_for(database_url)
    # Queueing without errors or leaks is what the stress tests claim, not a latency bound: a
    # generous pool_timeout keeps a slow, shared CI machine from turning a long queue into 503s.
    pool = {"pool_size": POOL_SIZE, "max_overflow": 0, "pool_timeout": 30.0}
    settings = settings.model_copy(update={"database": settings.database.model_copy(update=pool)})
    return create_app(settings, password_hasher=PasswordHasher(FAST_ARGON2, nice=0))


def _seed(app: FastAPI) -> dict[int, int]:
    products = [Product(sku="STRESS-A", name="A", price_cents=300)]
    products.append(Product(sku="STRESS-B", name="B", price_cents=700))
    staff = User(email="stress-staff@example.com", password_hash=PASSWORD_HASH, role=Role.STAFF)
    asyncio.run(_add(app, *products, staff))
    return {product.id: product.price_cents for product in products}


@contextmanager
def _serving(app: FastAPI) -> Iterator[tuple[FastAPI, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "the orders service did not start"
        yield app, port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
