"""Counts in the real Redis server, shared by every app on it; and what a failing Redis does.

Each test writes under its `redis_keys` prefix; faults go through a `FaultProxy` the test owns,
so the shared server never stops.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import Depends, FastAPI

from fastapi_pro import Components, Settings, setup
from fastapi_pro.ratelimit import RateLimit
from tests.conftest import ClientFactory, RedisKeys, redis_key_names
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.redis

TIMEOUT = 0.5  # the Redis client's socket timeouts in these tests


def settings_for(url: str, prefix: str, **ratelimit: Any) -> Settings:
    """Settings on ``url``; checks fail closed and wait long unless told otherwise, so a loaded
    machine's slow answer shows as a 503, never as a request let through uncounted."""
    ratelimit.setdefault("timeout", 5.0)
    ratelimit.setdefault("fail_open", False)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis={
            "url": url,
            "key_prefix": prefix,
            "socket_connect_timeout": TIMEOUT,
            "socket_timeout": TIMEOUT,
        },
        ratelimit=ratelimit,
    )


def make_app(settings: Settings, *limits: str, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/search", dependencies=[Depends(RateLimit(*limits, **options))])
    async def search() -> dict[str, list[str]]:
        return {"hits": []}

    setup(app, settings, database=False, auth=False, logging=False, observability=False)
    return app


async def test_apps_on_one_redis_share_their_counts(
    client_for: ClientFactory, redis_keys: RedisKeys
) -> None:
    settings = settings_for(redis_keys.url, redis_keys.prefix)
    first, second = make_app(settings, "2/minute"), make_app(settings, "2/minute")
    async with client_for(first) as one, client_for(second) as other:
        statuses = [
            (await one.get("/search")).status_code,
            (await other.get("/search")).status_code,
            (await one.get("/search")).status_code,
        ]
    assert statuses == [200, 200, 429]
    keys = await redis_key_names(redis_keys.url, redis_keys.prefix)
    assert keys
    assert all(key.startswith(f"{redis_keys.prefix}ratelimit:".encode()) for key in keys)


@pytest.mark.parametrize("strategy", ["moving-window", "sliding-window-counter", "fixed-window"])
async def test_concurrent_requests_admit_exactly_the_limit(
    client_for: ClientFactory, redis_keys: RedisKeys, strategy: str
) -> None:
    app = make_app(settings_for(redis_keys.url, redis_keys.prefix, strategy=strategy), "5/minute")
    async with client_for(app) as client:
        answers = await asyncio.gather(*(client.get("/search") for _ in range(20)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 5 + [429] * 15


async def test_reset_deletes_the_counters_in_redis(
    client_for: ClientFactory, redis_keys: RedisKeys
) -> None:
    app = make_app(settings_for(redis_keys.url, redis_keys.prefix), "1/minute")
    async with client_for(app) as client:
        assert (await client.get("/search")).status_code == 200
        limiter = Components.of(app).rate_limiter
        assert limiter is not None
        await limiter.reset()
        assert await redis_key_names(redis_keys.url, redis_keys.prefix) == []
        assert (await client.get("/search")).status_code == 200


@pytest.fixture
def redis_proxy(redis_keys: RedisKeys) -> Iterator[tuple[FaultProxy, str]]:
    """A proxy in front of the real Redis and a URL through it, on a random database."""
    upstream = urlsplit(redis_keys.url)
    database = random.randint(1, 15)  # noqa: S311
    redis_keys.database_url(database)  # its keys there are deleted after the test
    with FaultProxy(upstream.hostname or "127.0.0.1", upstream.port or 6379) as proxy:
        yield proxy, f"redis://127.0.0.1:{proxy.port}/{database}"


def ratelimit_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "fastapi_pro.ratelimit" and record.levelno == level
    ]


def break_redis(proxy: FaultProxy, fault: str) -> None:
    proxy.refuse() if fault == "refuse" else proxy.blackhole()


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_failing_open_lets_requests_through_logs_once_and_counts_each(
    fault: str,
    client_for: ClientFactory,
    redis_keys: RedisKeys,
    redis_proxy: tuple[FaultProxy, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy, url = redis_proxy
    app = make_app(settings_for(url, redis_keys.prefix, timeout=1.0, fail_open=True), "100/minute")
    caplog.set_level(logging.INFO)
    async with client_for(app) as client:
        assert (await client.get("/search")).status_code == 200
        break_redis(proxy, fault)
        during = [await client.get("/search") for _ in range(3)]
        proxy.restore()
        after = await client.get("/search")
    assert [r.status_code for r in during] == [200, 200, 200]
    assert all("RateLimit" not in r.headers for r in during)  # no counts to announce
    assert after.headers["RateLimit"].startswith('"100-per-minute";r=9')
    limiter = Components.of(app).rate_limiter
    assert limiter is not None
    failures = limiter.registry.get_sample_value(
        "ratelimit_storage_failures_total", {"outcome": "allowed"}
    )
    assert failures == 3
    [warning] = ratelimit_lines(caplog, logging.WARNING)
    assert "requests are allowed" in warning
    assert ratelimit_lines(caplog, logging.INFO) == ["Rate-limit storage answers again."]


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_failing_closed_answers_a_503_problem_with_retry_after(
    fault: str,
    client_for: ClientFactory,
    redis_keys: RedisKeys,
    redis_proxy: tuple[FaultProxy, str],
) -> None:
    proxy, url = redis_proxy
    settings = settings_for(url, redis_keys.prefix, timeout=1.0, retry_after=7)
    app = make_app(settings, "100/minute")
    async with client_for(app) as client:
        break_redis(proxy, fault)
        refused = await client.get("/search")
        proxy.restore()
        after = await client.get("/search")
    assert refused.status_code == 503
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "service_unavailable"
    assert refused.headers["Retry-After"] == "7"
    assert after.status_code == 200


async def test_a_rate_limit_may_fail_closed_where_the_app_fails_open(
    client_for: ClientFactory, redis_keys: RedisKeys, redis_proxy: tuple[FaultProxy, str]
) -> None:
    proxy, url = redis_proxy
    settings = settings_for(url, redis_keys.prefix, timeout=1.0, fail_open=True)
    app = make_app(settings, "5/minute", fail_open=False)
    async with client_for(app) as client:
        proxy.refuse()
        refused = await client.get("/search")
    assert refused.status_code == 503


async def test_on_redis_a_request_refused_by_one_limit_counts_against_none(
    client_for: ClientFactory, redis_keys: RedisKeys
) -> None:
    app = make_app(settings_for(redis_keys.url, redis_keys.prefix), "3/minute", "1/minute")
    async with client_for(app) as client:
        answers = [await client.get("/search") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 429, 429]
    assert answers[0].headers["RateLimit"] == '"3-per-minute";r=2;t=60, "1-per-minute";r=0;t=60'
    # The minute limit refused: the three-per-minute one still has the two units it had.
    assert answers[2].headers["RateLimit"] == '"3-per-minute";r=2;t=60, "1-per-minute";r=0;t=60'
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60


async def test_on_redis_a_cost_above_the_quota_is_always_refused(
    client_for: ClientFactory, redis_keys: RedisKeys
) -> None:
    app = make_app(settings_for(redis_keys.url, redis_keys.prefix), "2/minute", cost=3)
    async with client_for(app) as client:
        refused = await client.get("/search")
    assert refused.status_code == 429
    assert refused.headers["RateLimit"] == '"2-per-minute";r=2;t=60'
    assert refused.headers["Retry-After"] == "60"
