"""How many Redis commands one check sends: one script for every moving-window limit of a
route; two or three commands per limit for the other strategies, through ``limits``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI
from redis.asyncio import Redis

from fastapi_pro.errors import install_error_handlers
from fastapi_pro.ratelimit import RateLimit, RateLimiter, redis_storage
from tests.conftest import ClientFactory, RedisKeys

pytestmark = pytest.mark.redis


def counting(client: Any) -> list[str]:
    """Record each command ``client`` sends (its name), by wrapping the instance's method."""
    sent: list[str] = []
    execute = client.execute_command

    async def execute_command(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return await execute(*args, **options)

    client.execute_command = execute_command
    return sent


@pytest.mark.parametrize(
    ("strategy", "commands"),
    [("moving-window", 1), ("sliding-window-counter", 4), ("fixed-window", 6)],
)
async def test_a_check_of_two_limits_costs_a_fixed_number_of_commands(
    client_for: ClientFactory, redis_keys: RedisKeys, strategy: str, commands: int
) -> None:
    redis = Redis.from_url(redis_keys.url)
    storage = redis_storage(redis, f"{redis_keys.prefix}ratelimit")
    # Fail closed and wait long: a slow answer on a loaded machine is a 503, not a short count.
    limiter = RateLimiter(storage, strategy=strategy, timeout=5.0, fail_open=False)  # type: ignore[arg-type]
    app = FastAPI(dependencies=[Depends(RateLimit("100/minute", "1000/hour"))])
    install_error_handlers(app)
    limiter.install(app)

    @app.get("/a")
    async def a() -> dict[str, str]:
        return {}

    sent = counting(limiter.storage.bridge.storage)  # type: ignore[attr-defined]
    try:
        async with client_for(app) as client:
            await client.get("/a")  # loads the scripts
            sent.clear()
            response = await client.get("/a")
    finally:
        await redis.aclose()
    assert response.status_code == 200
    assert len(sent) == commands, sent
