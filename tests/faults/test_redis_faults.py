"""Redis refusing connections or black-holed: every path that needs it answers a prompt 503.

The app talks to the real Redis server through a `FaultProxy`, on a database number of its own
and under a key prefix of its own, so parallel runs never collide and the server never stops.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from fastapi_pro import Settings, setup
from fastapi_pro.auth import (
    CurrentPrincipal,
    Principal,
    RedisTokenStore,
    TokenStoreUnavailableError,
    password_flow_router,
)
from tests.conftest import RedisKeys
from tests.faults.proxy import FaultProxy
from tests.servers import in_process as serve

pytestmark = pytest.mark.redis

SECRET = "a-test-signing-secret-of-32-bytes-or-more"
TIMEOUT = 0.5  # the Redis socket timeouts and the health check's timeout of these tests
BOUND = TIMEOUT + 1.0  # what any request may take while Redis is away
RECOVERY = 1.0  # seconds after Redis returns within which everything works again
FAULTS = ["refuse", "blackhole"]
FAILURE_KIND = {"refuse": "ConnectionError", "blackhole": "TimeoutError"}

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@pytest.fixture
def redis_target(redis_keys: RedisKeys) -> Iterator[tuple[FaultProxy, str, str]]:
    """A proxy in front of the real Redis, a URL through it (a random database), a key prefix."""
    upstream = urlsplit(redis_keys.url)
    database = random.randint(1, 15)  # noqa: S311
    redis_keys.database_url(database)  # its keys there are deleted after the test
    with FaultProxy(upstream.hostname or "127.0.0.1", upstream.port or 6379) as proxy:
        yield proxy, f"redis://127.0.0.1:{proxy.port}/{database}", redis_keys.prefix


async def _authenticate(username: str, password: str) -> Principal | None:
    return Principal(subject=username) if password == "right" else None


def make_app(url: str, prefix: str, *, check_denylist: bool) -> FastAPI:
    """A service with the password flow, a protected route and readiness, on Redis alone."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        auth={"secret_key": SECRET, "token_store": "redis", "check_denylist": check_denylist},
        redis={
            "url": url,
            "key_prefix": prefix,
            "socket_connect_timeout": TIMEOUT,
            "socket_timeout": TIMEOUT,
        },
        health={"check_timeout": TIMEOUT, "cache_ttl": 0},
    )
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    app.include_router(password_flow_router(_authenticate))
    setup(app, settings, database=False, logging=False, observability=False)
    return app


async def login(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": username, "password": "right"})


def calls(tokens: dict[str, Any]) -> dict[str, Call]:
    """Every route that needs Redis, given a token pair issued before the fault."""
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = tokens["refresh_token"]
    return {
        "login": lambda c: login(c, "ada"),
        "refresh": lambda c: c.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
        ),
        "denylist-checked route": lambda c: c.get("/me", headers=bearer),
        "logout": lambda c: c.post("/auth/logout", json={"refresh_token": refresh}),
        "logout-all": lambda c: c.post("/auth/logout-all", headers=bearer),
    }


async def timed(client: httpx.AsyncClient, call: Call) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await call(client)
    return response, time.perf_counter() - started


def assert_prompt_503(name: str, response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, (name, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "token_store_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed <= BOUND, (name, elapsed)


def break_redis(proxy: FaultProxy, fault: str) -> None:
    proxy.refuse() if fault == "refuse" else proxy.blackhole()


def store_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "fastapi_pro.auth" and record.levelno == level
    ]


@pytest.mark.parametrize("fault", FAULTS)
async def test_every_redis_path_answers_a_prompt_503_and_recovers_without_restart(
    fault: str,
    redis_target: tuple[FaultProxy, str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy, url, prefix = redis_target
    app = make_app(url, prefix, check_denylist=True)
    caplog.set_level(logging.INFO)
    async with serve(app) as client:
        before = await login(client, "ada")
        assert before.status_code == 200
        break_redis(proxy, fault)
        routes = calls(before.json())  # every path, twice, all at once
        answers = await asyncio.gather(*(timed(client, call) for call in [*routes.values()] * 2))
        for name, (response, elapsed) in zip([*routes] * 2, answers, strict=True):
            assert_prompt_503(name, response, elapsed)
        ready, elapsed = await timed(client, lambda c: c.get("/health/ready"))
        assert (ready.status_code, ready.json()["status"]) == (503, "fail")
        assert elapsed <= BOUND

        proxy.restore()
        restored = time.perf_counter()
        after = await login(client, "grace")
        assert after.status_code == 200, after.text
        assert time.perf_counter() - restored <= RECOVERY
        for name, call in calls(after.json()).items():
            assert (await call(client)).status_code in (200, 204), name
        assert (await client.get("/health/ready")).status_code == 200

    failures = store_lines(caplog, logging.WARNING)
    assert len(failures) == 1, failures  # one line for ten failed requests, no traceback
    assert FAILURE_KIND[fault] in failures[0]
    assert store_lines(caplog, logging.INFO) == ["The Redis token store answers again."]
    assert not [record for record in caplog.records if record.name == "fastapi_pro.errors"]


@pytest.mark.parametrize("fault", FAULTS)
async def test_routes_that_only_verify_access_tokens_keep_working_while_redis_is_away(
    fault: str, redis_target: tuple[FaultProxy, str, str]
) -> None:
    proxy, url, prefix = redis_target
    app = make_app(url, prefix, check_denylist=False)
    async with serve(app) as client:
        tokens = (await login(client, "ada")).json()
        break_redis(proxy, fault)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        me, elapsed = await timed(client, lambda c: c.get("/me", headers=bearer))
        refused, _ = await timed(client, lambda c: login(c, "ada"))

    assert (me.status_code, me.json()) == (200, {"subject": "ada"})
    assert elapsed < TIMEOUT  # no store lookup, so no wait for Redis
    assert refused.status_code == 503


@pytest.mark.parametrize("fault", FAULTS)
async def test_readiness_fails_promptly_and_passes_again_once_redis_returns(
    fault: str, redis_target: tuple[FaultProxy, str, str]
) -> None:
    proxy, url, prefix = redis_target
    app = make_app(url, prefix, check_denylist=False)
    async with serve(app) as client:
        assert (await client.get("/health/ready")).status_code == 200
        break_redis(proxy, fault)
        failing, elapsed = await timed(client, lambda c: c.get("/health/ready"))
        live = await client.get("/health/live")
        proxy.restore()
        restored = time.perf_counter()
        passing = await client.get("/health/ready")
        recovered_in = time.perf_counter() - restored

    check = failing.json()["checks"]["redis:responseTime"][0]
    assert (failing.status_code, check["status"]) == (503, "fail")
    assert check["output"] == ("unavailable" if fault == "refuse" else "timeout")
    assert failing.headers["content-type"].startswith("application/health+json")
    assert elapsed <= TIMEOUT + 0.5
    assert live.status_code == 200
    assert passing.status_code == 200
    assert recovered_in <= RECOVERY


async def test_a_lasting_failure_is_logged_again_after_the_interval_with_its_count(
    redis_target: tuple[FaultProxy, str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, url, prefix = redis_target
    monkeypatch.setattr("fastapi_pro.auth._redis_store.LOG_INTERVAL", 0.3)
    app = make_app(url, prefix, check_denylist=False)
    caplog.set_level(logging.WARNING, logger="fastapi_pro.auth")
    async with serve(app) as client:
        proxy.refuse()
        statuses = [(await login(client, "ada")).status_code for _ in range(3)]
        await asyncio.sleep(0.35)
        statuses.append((await login(client, "ada")).status_code)

    assert statuses == [503] * 4
    lines = store_lines(caplog, logging.WARNING)
    assert len(lines) == 2, lines
    assert "2 more failures of this kind since the last line" in lines[1]


def test_the_password_flow_routes_document_the_503() -> None:
    app = make_app("redis://127.0.0.1:6379/0", "unused:", check_denylist=True)
    paths = app.openapi()["paths"]

    for path in ("/auth/token", "/auth/logout", "/auth/logout-all"):
        unavailable = paths[path]["post"]["responses"]["503"]
        examples = unavailable["content"]["application/problem+json"]["examples"]
        assert "token_store_unavailable" in examples, path


async def test_a_store_of_your_own_sends_its_retry_after_and_keeps_the_redis_error(
    redis_target: tuple[FaultProxy, str, str],
) -> None:
    proxy, url, prefix = redis_target
    client = Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    store = RedisTokenStore(client, prefix=prefix, retry_after=5)
    proxy.refuse()
    try:
        with pytest.raises(TokenStoreUnavailableError) as raised:
            await store.is_denied("some-jti")
    finally:
        await client.aclose()

    assert raised.value.status == 503
    assert raised.value.headers["Retry-After"] == "5"
    assert type(raised.value.__cause__).__name__ == "ConnectionError"
