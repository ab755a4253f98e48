"""The real servers the backend suites run against, and the skip-or-fail policy for them."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio

from tests.conftest import POSTGRES_ENV, RedisKeys, service_unreachable


@pytest.mark.postgres
async def test_postgres_fixture_reaches_a_real_server(postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        version = await connection.fetchval("SHOW server_version_num")
    finally:
        await connection.close()
    assert int(version) >= 130000


@pytest.mark.redis
async def test_redis_fixture_reaches_a_real_server(redis_keys: RedisKeys) -> None:
    client = redis.asyncio.Redis.from_url(redis_keys.url)
    try:
        await client.set(f"{redis_keys.prefix}ping", "pong", ex=5)
        assert await client.get(f"{redis_keys.prefix}ping") == b"pong"
    finally:
        await client.aclose()


def test_unreachable_service_fails_when_its_variable_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(POSTGRES_ENV, "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(pytest.fail.Exception, match="must not be skipped"):
        service_unreachable("PostgreSQL", POSTGRES_ENV, "postgresql://...", OSError("refused"))


def test_unreachable_service_skips_when_its_variable_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="set FASTAPI_PRO_TEST_POSTGRES_URL"):
        service_unreachable("PostgreSQL", POSTGRES_ENV, "postgresql://...", OSError("refused"))
