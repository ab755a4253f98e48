from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import redis.asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_pro.db import Database
from fastapi_pro.health import (
    HEALTH_MEDIA_TYPE,
    CheckResult,
    Health,
    SupportsPing,
    database_check,
    redis_check,
)
from fastapi_pro.settings import HealthSettings
from tests.conftest import ClientFactory

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


class CountingCheck:
    """A check that counts its runs and takes ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def passes() -> None:
    return None


async def refuses() -> bool:
    return False


async def raises_with_secrets() -> None:
    raise RuntimeError("cannot reach postgresql://app:hunter2@db.internal/app")


def app_with(health: Health) -> FastAPI:
    app = FastAPI()
    health.install(app)
    return app


@contextlib.asynccontextmanager
async def probing(health: Health, client_for: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app_with(health)) as client:
        yield client


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}")
    yield db
    await db.dispose()


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await call()
    return response, time.perf_counter() - started


# Liveness


async def test_live_is_200_while_a_critical_check_fails(client_for: ClientFactory) -> None:
    health = Health()
    health.add("database", refuses)
    async with probing(health, client_for) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")

    assert live.status_code == 200
    assert live.json() == {"status": "pass"}
    assert ready.status_code == 503


async def test_live_never_runs_the_checks(client_for: ClientFactory) -> None:
    check = CountingCheck()
    health = Health()
    health.add("database", check)
    async with probing(health, client_for) as client:
        await client.get("/health/live")

    assert check.calls == 0


# Readiness against real servers


async def test_ready_passes_with_a_sqlite_database(
    sqlite_db: Database, client_for: ClientFactory
) -> None:
    health = Health(version="1.2.3", service_id="orders")
    health.add("database", database_check(sqlite_db))
    async with probing(health, client_for) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pass"
    assert body["version"] == "1.2.3"
    assert body["serviceId"] == "orders"
    [entry] = body["checks"]["database:responseTime"]
    assert entry["componentType"] == "datastore"
    assert entry["status"] == "pass"
    assert entry["observedUnit"] == "ms"
    assert entry["observedValue"] >= 0
    assert "time" in entry
    assert "output" not in entry


class PingingStore:
    """Not a `Database`: any object with an async ``ping(timeout)`` is a `SupportsPing`."""

    def __init__(self, *, answers: bool) -> None:
        self.answers = answers
        self.timeouts: list[float] = []

    async def ping(self, timeout: float) -> None:  # noqa: ASYNC109 - the protocol's shape
        self.timeouts.append(timeout)
        if not self.answers:
            raise ConnectionRefusedError


async def test_database_check_probes_any_object_that_supports_ping(
    client_for: ClientFactory,
) -> None:
    up, down = PingingStore(answers=True), PingingStore(answers=False)
    store: SupportsPing = up
    health = Health()
    health.add("up", database_check(store))
    health.add("down", database_check(down), critical=False)
    async with probing(health, client_for) as client:
        body = (await client.get("/health/ready")).json()

    assert body["status"] == "warn"
    assert body["checks"]["up:responseTime"][0]["componentType"] == "datastore"
    assert body["checks"]["down:responseTime"][0]["output"] == "unavailable"
    assert len(up.timeouts) == 1
    assert up.timeouts[0] > 0


@pytest.mark.postgres
async def test_ready_passes_with_a_postgres_database(
    postgres_url: str, client_for: ClientFactory
) -> None:
    db = Database(postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    health = Health()
    health.add("database", database_check(db))
    try:
        async with probing(health, client_for) as client:
            response = await client.get("/health/ready")
    finally:
        await db.dispose()

    assert response.status_code == 200
    assert response.json()["checks"]["database:responseTime"][0]["status"] == "pass"


@pytest.mark.redis
async def test_ready_passes_with_a_redis_server(redis_url: str, client_for: ClientFactory) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    health = Health()
    health.add("cache", redis_check(client))
    try:
        async with probing(health, client_for) as http:
            response = await http.get("/health/ready")
    finally:
        await client.aclose()

    assert response.status_code == 200
    [entry] = response.json()["checks"]["cache:responseTime"]
    assert entry["status"] == "pass"
    assert entry["componentType"] == "datastore"


# Failures, timeouts and the deadline


async def test_ready_is_503_within_the_deadline_when_dependencies_are_down(
    unused_tcp_port_factory: Callable[[], int], client_for: ClientFactory
) -> None:
    db = Database(f"postgresql+asyncpg://app:hunter2@127.0.0.1:{unused_tcp_port_factory()}/x")
    cache = redis.asyncio.Redis.from_url(f"redis://:hunter2@127.0.0.1:{unused_tcp_port_factory()}")
    health = Health()
    health.add("database", database_check(db))
    health.add("cache", redis_check(cache))
    try:
        async with probing(health, client_for) as client:
            ready, elapsed = await timed(lambda: client.get("/health/ready"))
            live = await client.get("/health/live")
    finally:
        await cache.aclose()
        await db.dispose()

    assert ready.status_code == 503
    assert elapsed < 1.0
    body = ready.json()
    assert body["status"] == "fail"
    for key in ("database:responseTime", "cache:responseTime"):
        assert body["checks"][key][0]["status"] == "fail"
        assert body["checks"][key][0]["output"] in {"unavailable", "timeout"}
    assert live.status_code == 200


async def test_a_slow_check_is_cut_at_its_timeout(client_for: ClientFactory) -> None:
    health = Health()
    health.add("slow", CountingCheck(delay=5), timeout=0.1)
    async with probing(health, client_for) as client:
        response, elapsed = await timed(lambda: client.get("/health/ready"))

    assert response.status_code == 503
    assert elapsed < 0.5
    [entry] = response.json()["checks"]["slow:responseTime"]
    assert entry["output"] == "timeout"


async def test_a_check_that_ignores_cancellation_is_abandoned_at_the_deadline(
    client_for: ClientFactory,
) -> None:
    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # swallows its timeout
            await asyncio.sleep(5)
        await asyncio.sleep(5)

    health = Health(deadline=0.2, check_timeout=5)
    health.add("stubborn", stubborn)
    async with probing(health, client_for) as client:
        response, elapsed = await timed(lambda: client.get("/health/ready"))

    assert response.status_code == 503
    assert elapsed < 0.5
    assert response.json()["checks"]["stubborn:responseTime"][0]["output"] == "timeout"


async def test_checks_run_concurrently(client_for: ClientFactory) -> None:
    health = Health()
    for name in ("a", "b", "c", "d"):
        health.add(name, CountingCheck(delay=0.2))
    async with probing(health, client_for) as client:
        response, elapsed = await timed(lambda: client.get("/health/ready"))

    assert response.status_code == 200
    assert elapsed < 0.5


async def test_a_check_returning_false_fails(client_for: ClientFactory) -> None:
    health = Health()
    health.add("queue", refuses)
    async with probing(health, client_for) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["queue:responseTime"][0]["output"] == "failed"


async def test_a_failing_non_critical_check_gives_warn_with_200(client_for: ClientFactory) -> None:
    health = Health()
    health.add("database", passes)
    health.add("search", refuses, critical=False)
    async with probing(health, client_for) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warn"
    assert body["checks"]["search:responseTime"][0]["status"] == "fail"
    assert body["checks"]["database:responseTime"][0]["status"] == "pass"


async def test_a_check_can_warn_in_its_own_words(client_for: ClientFactory) -> None:
    async def disk() -> CheckResult:
        return CheckResult("warn", "disk 91% full")

    health = Health()
    health.add("disk", disk, component_type="system")
    async with probing(health, client_for) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 200
    [entry] = response.json()["checks"]["disk:responseTime"]
    assert entry == entry | {"status": "warn", "output": "disk 91% full", "componentType": "system"}


async def test_bodies_hold_no_traceback_and_no_connection_string(
    unused_tcp_port: int, client_for: ClientFactory
) -> None:
    db = Database(f"postgresql+asyncpg://app:hunter2@127.0.0.1:{unused_tcp_port}/orders")
    health = Health()
    health.add("database", database_check(db))
    health.add("other", raises_with_secrets)
    try:
        async with probing(health, client_for) as client:
            response = await client.get("/health/ready")
    finally:
        await db.dispose()

    assert response.status_code == 503
    for leak in ("hunter2", "postgresql", "127.0.0.1", "Traceback", "RuntimeError", "Error"):
        assert leak not in response.text
    assert response.json()["checks"]["other:responseTime"][0]["output"] == "failed"


async def test_a_failing_check_is_logged_once_until_it_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes = [False, False, True]

    async def flapping() -> bool:
        return outcomes.pop(0)

    health = Health(cache_ttl=0)
    health.add("queue", flapping)
    with caplog.at_level(logging.INFO, logger="fastapi_pro.health"):
        for _ in range(3):
            await health.readiness()

    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]


# Cache and single flight


async def test_two_probes_within_the_ttl_run_the_check_once(client_for: ClientFactory) -> None:
    clock = FakeClock()
    check = CountingCheck()
    health = Health(cache_ttl=1.0, clock=clock)
    health.add("database", check)
    async with probing(health, client_for) as client:
        await client.get("/health/ready")
        clock.now += 0.9
        await client.get("/health/ready")

    assert check.calls == 1


async def test_a_probe_after_the_ttl_runs_the_check_again(client_for: ClientFactory) -> None:
    clock = FakeClock()
    check = CountingCheck()
    health = Health(cache_ttl=1.0, clock=clock)
    health.add("database", check)
    async with probing(health, client_for) as client:
        await client.get("/health/ready")
        clock.now += 1.0
        await client.get("/health/ready")

    assert check.calls == 2


async def test_concurrent_probes_share_one_run(client_for: ClientFactory) -> None:
    check = CountingCheck(delay=0.1)
    health = Health(cache_ttl=0)
    health.add("database", check)
    async with probing(health, client_for) as client:
        responses = await asyncio.gather(*(client.get("/health/ready") for _ in range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    assert check.calls == 1


# Isolation and start-up


async def test_two_health_instances_keep_their_own_checks(client_for: ClientFactory) -> None:
    first, second = Health(), Health()
    first.add("database", passes)
    second.add("broker", refuses)
    async with (
        probing(first, client_for) as one,
        probing(second, client_for) as two,
    ):
        first_ready = await one.get("/health/ready")
        second_ready = await two.get("/health/ready")

    assert first_ready.status_code == 200
    assert list(first_ready.json()["checks"]) == ["database:responseTime"]
    assert second_ready.status_code == 503
    assert list(second_ready.json()["checks"]) == ["broker:responseTime"]


async def test_startup_is_503_until_mark_started(client_for: ClientFactory) -> None:
    health = Health(manual_start=True)
    health.add("database", passes)
    async with probing(health, client_for) as client:
        before = await client.get("/health/startup")
        await client.get("/health/ready")
        still_before = await client.get("/health/startup")
        health.mark_started()
        after = await client.get("/health/startup")

    assert before.status_code == 503
    assert before.json() == {"status": "fail", "output": "starting"}
    assert still_before.status_code == 503
    assert after.status_code == 200
    assert after.json() == {"status": "pass"}


async def test_startup_passes_once_the_checks_pass(client_for: ClientFactory) -> None:
    outcomes = [False, True, False]

    async def warming_up() -> bool:
        return outcomes.pop(0)

    health = Health(cache_ttl=0)
    health.add("cache", warming_up)
    async with probing(health, client_for) as client:
        statuses = [(await client.get("/health/startup")).status_code for _ in range(3)]

    assert statuses == [503, 200, 200]
    assert health.started


# Format


@pytest.mark.parametrize("probe", ["live", "ready", "startup"])
async def test_responses_are_health_json_and_never_cached(
    probe: str, client_for: ClientFactory
) -> None:
    async with probing(Health(), client_for) as client:
        response = await client.get(f"/health/{probe}")

    assert response.headers["content-type"] == HEALTH_MEDIA_TYPE
    assert response.headers["cache-control"] == "no-store"


def test_openapi_documents_the_probes_with_the_health_media_type() -> None:
    schema = app_with(Health()).openapi()

    for probe in ("live", "ready", "startup"):
        operation = schema["paths"][f"/health/{probe}"]["get"]
        assert operation["tags"] == ["health"]
        assert HEALTH_MEDIA_TYPE in operation["responses"]["200"]["content"]
    for probe in ("ready", "startup"):
        responses = schema["paths"][f"/health/{probe}"]["get"]["responses"]
        assert HEALTH_MEDIA_TYPE in responses["503"]["content"]
    assert "503" not in schema["paths"]["/health/live"]["get"]["responses"]
    assert "serviceId" in schema["components"]["schemas"]["HealthReport"]["properties"]


def test_the_probes_can_be_left_out_of_openapi() -> None:
    app = FastAPI()
    Health().install(app, include_in_schema=False)

    assert app.openapi()["paths"] == {}


async def test_the_router_takes_another_prefix(client_for: ClientFactory) -> None:
    app = FastAPI()
    app.include_router(Health().router(prefix="/_internal"))
    async with client_for(app) as client:
        response = await client.get("/_internal/live")

    assert response.status_code == 200


def test_two_health_routers_in_one_app_have_distinct_operation_ids() -> None:
    app = FastAPI()
    Health().install(app)
    Health().install(app, prefix="/admin/health")

    operations = [path["get"]["operationId"] for path in app.openapi()["paths"].values()]
    assert len(set(operations)) == 6


# Configuration


def test_from_settings_takes_the_timeout_and_ttl() -> None:
    health = Health.from_settings(HealthSettings(check_timeout=0.3, cache_ttl=5), version="2")

    assert (health.check_timeout, health.cache_ttl, health.version) == (0.3, 5, "2")


@pytest.mark.parametrize("name", ["", "db:primary"])
def test_a_check_name_must_be_a_plain_word(name: str) -> None:
    with pytest.raises(ValueError, match="non-empty and hold no ':'"):
        Health().add(name, passes)


def test_a_check_name_is_registered_once() -> None:
    health = Health()
    health.add("database", passes)

    with pytest.raises(ValueError, match="already registered"):
        health.add("database", passes)


def test_membership_tells_which_checks_are_registered() -> None:
    health = Health()
    health.add("database", passes)

    assert "database" in health
    assert "redis" not in health


@pytest.mark.parametrize("options", [{"deadline": 0}, {"check_timeout": -1}, {"cache_ttl": -1}])
def test_timeouts_must_be_positive(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="seconds"):
        Health(**options)


# The documented example


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def test_the_documented_example_reports_the_database_and_the_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    module = load_example("health_app")
    async with LifespanManager(module.app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            live = await client.get("/health/live")
            startup = await client.get("/health/startup")
            ready = await client.get("/health/ready")

    assert live.json()["serviceId"] == "orders"
    assert startup.status_code == 200
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["database:responseTime"][0]["status"] == "pass"
    assert checks["disk:responseTime"][0]["componentType"] == "system"
