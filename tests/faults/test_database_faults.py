"""The orders example with PostgreSQL refusing or black-holing its connections, through a proxy.

Small bounds keep the run short: a request that needs a connection fails within
``pool_timeout + connect_timeout`` (2 s here), one whose statement is under way within
``command_timeout`` (1.5 s).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from examples.orders.database import Model
from examples.orders.main import create_app
from examples.orders.modules.products.models import Product
from examples.orders.modules.users.models import Role, User
from fastapi_pro import Settings
from fastapi_pro.auth import PasswordHasher
from fastapi_pro.db import Database
from fastapi_pro.settings import (
    AuthSettings,
    DatabaseSettings,
    HealthSettings,
    ObservabilitySettings,
    RateLimitSettings,
)
from fastapi_pro.testing import run_app
from tests.examples.orders.helpers import FAST_ARGON2, PASSWORD, PASSWORD_HASH, SECRET
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.postgres

POOL_TIMEOUT, CONNECT_TIMEOUT, COMMAND_TIMEOUT = 1.0, 1.0, 1.5
BOUND = max(POOL_TIMEOUT + CONNECT_TIMEOUT, COMMAND_TIMEOUT)
CHECK_TIMEOUT, CACHE_TTL = 0.3, 0.1
READY_BOUND = CHECK_TIMEOUT + CACHE_TTL + 0.25
"""Readiness must fail within one check's timeout after its cached answer expires, plus a
quarter second for polling and for a two-core machine running the suite beside it."""
EMAIL = "faults@example.com"
_OVERFLOW = re.compile(r"^db_client_connections_overflow\{[^}]*\} (\S+)$", re.MULTILINE)


@dataclass
class Service:
    client: httpx.AsyncClient
    proxy: FaultProxy
    auth: dict[str, str]
    product_id: int
    overflow: list[float] = field(default_factory=list)

    async def read(self) -> httpx.Response:
        return await self.client.get("/products", headers=self.auth)

    async def write(self) -> httpx.Response:
        order = {"lines": [{"product_id": self.product_id, "quantity": 1}]}
        return await self.client.post("/orders", json=order, headers=self.auth)

    async def login(self) -> httpx.Response:
        form = {"username": EMAIL, "password": PASSWORD}
        return await self.client.post("/auth/token", data=form)

    async def status(self, path: str) -> int:
        return (await self.client.get(path)).status_code

    async def scrape(self) -> None:
        text = (await self.client.get("/metrics")).text
        self.overflow.extend(float(value) for value in _OVERFLOW.findall(text))


def settings_for(url: str) -> Settings:
    return Settings(
        environment="test",
        database=DatabaseSettings(
            url=SecretStr(url),
            pool_size=2,
            max_overflow=2,
            pool_timeout=POOL_TIMEOUT,
            connect_timeout=CONNECT_TIMEOUT,
            statement_timeout=1.0,
            command_timeout=COMMAND_TIMEOUT,
        ),
        auth=AuthSettings(secret_key=SecretStr(SECRET)),
        observability=ObservabilitySettings(logging_enabled=False, access_log_enabled=False),
        health=HealthSettings(check_timeout=CHECK_TIMEOUT, cache_ttl=CACHE_TTL),
        # The tests log one account in more often than the login limits allow (tests/ratelimit).
        ratelimit=RateLimitSettings(login_limits=False),
    )


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FaultProxy]:
    upstream = make_url(postgres_url)
    with FaultProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as running:
        yield running


async def seed(database: Database) -> int:
    async with database.session() as session:
        session.add(User(email=EMAIL, password_hash=PASSWORD_HASH, role=Role.CUSTOMER))
        product = Product(sku="FAULT-1", name="Fault mug", price_cents=500)
        session.add(product)
    return product.id


@pytest.fixture
async def service(postgres_database: str, proxy: FaultProxy) -> AsyncIterator[Service]:
    url = make_url(postgres_database).set(host="127.0.0.1", port=proxy.port)
    shown = url.render_as_string(hide_password=False)
    app = create_app(settings_for(shown), password_hasher=PasswordHasher(FAST_ARGON2, nice=0))
    async with run_app(app, database_url=shown, metadata=Model.metadata):
        product_id = await seed(Database.of(app))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            service = Service(client, proxy, {}, product_id)
            token = (await service.login()).json()["access_token"]
            service.auth = {"Authorization": f"Bearer {token}"}
            assert (await service.write()).status_code == 201
            yield service
            proxy.restore()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["retry-after"]) >= 1


def assert_logged_once_per_kind(caplog: pytest.LogCaptureFixture) -> Counter[str]:
    """One warning line per kind of failure, not one per request, and no traceback logged."""
    lines = [r.getMessage() for r in caplog.records if r.name == "fastapi_pro.db"]
    kinds = Counter(line.split(": ")[1] for line in lines)
    assert set(kinds.values()) == {1}, lines
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    return kinds


async def test_refused_connections_answer_503_problems_and_log_each_failure_once(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service.proxy.refuse()
    for _ in range(10):
        assert_unavailable(await service.read())
        assert_unavailable(await service.write())
        assert_unavailable(await service.login())
    assert await service.status("/health/live") == 200
    assert await service.status("/health/ready") == 503

    assert "ConnectionRefusedError (connect)" in assert_logged_once_per_kind(caplog)

    service.proxy.restore()
    assert (await service.read()).status_code == 200
    assert (await service.write()).status_code == 201


async def poll_until(service: Service, path: str, status: int, limit: float) -> float:
    """Seconds until ``path`` answers ``status``, polling every 20 ms; fails after ``limit``."""
    started = time.monotonic()
    while await service.status(path) != status:
        assert time.monotonic() - started < limit, f"{path} never answered {status}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def timed(call: asyncio.Future[httpx.Response] | object) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = await call  # type: ignore[misc]
    return time.monotonic() - started, response


async def wave(service: Service) -> list[tuple[float, httpx.Response]]:
    calls = [service.read() for _ in range(6)] + [service.write() for _ in range(4)]
    return list(await asyncio.gather(*(timed(call) for call in calls)))


async def test_black_holed_database_fails_every_request_within_the_bound(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    in_flight = asyncio.ensure_future(wave(service))  # some hold connections when it breaks
    await asyncio.sleep(0)
    service.proxy.blackhole()
    broken = await poll_until(service, "/health/ready", 503, limit=2.0)
    assert broken <= READY_BOUND, f"readiness failed {broken:.2f} s after the break"
    results = await in_flight
    for _ in range(3):
        results += await wave(service)
        await service.scrape()
        assert await service.status("/health/live") == 200
    durations = sorted(duration for duration, _ in results)
    p99 = durations[int(0.99 * (len(durations) - 1))]
    assert p99 <= BOUND + 1, durations
    for _, response in results:
        if response.status_code not in (200, 201):  # answered before the break took hold
            assert_unavailable(response)
    assert sum(response.status_code == 503 for _, response in results) >= 30
    assert_logged_once_per_kind(caplog)

    queued = asyncio.ensure_future(wave(service))  # a backlog waits while the network returns
    await asyncio.sleep(0.2)
    service.proxy.restore()
    recovered = await poll_until(service, "/health/ready", 200, limit=3.0)
    assert recovered <= 1.0, f"readiness passed {recovered:.2f} s after the restore"
    for _, response in await queued:
        assert response.status_code in (201, 200, 503), response.text
    assert (await service.read()).status_code == 200
    assert (await service.write()).status_code == 201
    await service.scrape()
    assert service.overflow
    assert min(service.overflow) >= 0


async def terminate_backends(admin_url: str, database: str) -> int:
    """Have PostgreSQL end every connection to ``database``, as a restart or failover would."""
    admin = await asyncpg.connect(admin_url)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    return int(ended)


async def test_connections_ended_by_the_server_cost_at_most_one_failed_request(
    service: Service, postgres_url: str, postgres_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(3):  # every pooled connection in use once, then all back in the pool
        assert all(r.status_code in (200, 201) for _, r in await wave(service))
    database = make_url(postgres_database).database or ""
    failed = 0
    for _ in range(3):  # no pre-ping round trip: the pool finds ended connections by itself
        assert await terminate_backends(postgres_url, database) >= 2
        await asyncio.sleep(0.1)  # the server's goodbye reaches the driver
        results = [response for _, response in await wave(service)]
        results += [await service.read(), await service.write()]
        statuses = Counter(response.status_code for response in results)
        assert set(statuses) <= {200, 201, 503}, statuses  # never a 500
        assert statuses[503] <= 1, statuses  # at most one failed request per pool
        for response in results:
            if response.status_code == 503:
                assert_unavailable(response)
        failed += statuses[503]
    # The driver saw the connections end, so the pool replaced them before handing them out
    # (without that check, each round costs one 503 before the pool drops its connections).
    assert failed <= 1
    assert (await service.read()).status_code == 200
    assert (await service.write()).status_code == 201
    assert await service.status("/health/ready") == 200
