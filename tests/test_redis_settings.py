"""The ``redis`` settings bound every Redis command of `setup`'s client."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry

from fastapi_pro import Settings
from fastapi_pro.app._redis import redis_client
from fastapi_pro.auth import RedisTokenStore
from tests.doc_pages import ROOT, code_blocks


def options(client: Redis) -> dict[str, Any]:
    kwargs = client.connection_pool.connection_kwargs
    retry: Retry = kwargs["retry"]
    return {
        "socket_connect_timeout": kwargs["socket_connect_timeout"],
        "socket_timeout": kwargs["socket_timeout"],
        "retries": retry.get_retries(),
        "retried": set(retry._supported_errors),  # redis-py has no public reader for it
    }


def test_defaults_give_redis_two_seconds_and_one_retry_of_refused_connections() -> None:
    settings = Settings(_env_file=None, redis={"url": "redis://127.0.0.1:6379/0"})  # type: ignore[call-arg]
    client = redis_client(settings)
    assert client is not None

    found = options(client)

    assert found["socket_connect_timeout"] == found["socket_timeout"] == 2.0
    assert found["retries"] == 1
    assert {error.__name__ for error in found["retried"]} == {"ConnectionError"}


def test_timeouts_and_retries_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_REDIS__URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("FASTAPI_PRO_REDIS__SOCKET_CONNECT_TIMEOUT", "0.25")
    monkeypatch.setenv("FASTAPI_PRO_REDIS__SOCKET_TIMEOUT", "0.5")
    monkeypatch.setenv("FASTAPI_PRO_REDIS__RETRIES", "0")
    client = redis_client(Settings(_env_file=None))  # type: ignore[call-arg]
    assert client is not None

    found = options(client)

    assert (found["socket_connect_timeout"], found["socket_timeout"]) == (0.25, 0.5)
    assert found["retries"] == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("socket_timeout", 0), ("socket_connect_timeout", -1), ("retries", 6), ("retries", -1)],
)
def test_unbounded_or_negative_values_are_refused(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"redis.{name}"):
        Settings(_env_file=None, redis={name: value})  # type: ignore[call-arg]


def test_the_auth_pages_own_client_example_bounds_redis_as_setup_does() -> None:
    example = next(
        block.text for block in code_blocks(ROOT / "docs" / "auth.md") if "NoBackoff" in block.text
    )
    namespace: dict[str, Any] = {"RedisTokenStore": RedisTokenStore}
    exec(example, namespace)  # noqa: S102 - the page's own code
    settings = Settings(_env_file=None, redis={"url": "redis://localhost:6379/0"})  # type: ignore[call-arg]
    built = redis_client(settings)
    assert built is not None

    assert options(namespace["client"]) == options(built)
