"""The Redis client `setup` builds from `Settings`, shared by the blocks that need one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi_pro.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def redis_client(settings: Settings) -> Redis | None:
    """A ``redis.asyncio`` client on ``redis.url``, or ``None`` when no URL is set.

    Its connect and command timeouts and its retries come from the ``redis`` settings, so a
    refused or silent Redis costs a request a bounded time.

    Raises:
        ImportError: When the URL is set but the ``redis`` extra is not installed.
    """
    url = settings.redis.url
    if url is None:
        return None
    try:
        from redis.asyncio import Redis  # noqa: PLC0415 - redis is an optional extra
    except ImportError as error:
        msg = 'redis.url is set, but redis is not installed: pip install "fastapi-pro[redis]"'
        raise ImportError(msg) from error
    client: Redis = Redis.from_url(url.get_secret_value(), **_bounds(settings))
    return client


def _bounds(settings: Settings) -> dict[str, Any]:
    """The client's timeouts, and retries of refused or reset connections only, at once."""
    from redis.asyncio.retry import Retry  # noqa: PLC0415 - redis is an optional extra
    from redis.backoff import NoBackoff  # noqa: PLC0415
    from redis.exceptions import ConnectionError as RedisConnectionError  # noqa: PLC0415

    config = settings.redis
    # A timeout is never retried, so one command costs at most about one socket timeout
    # (redis-py's default retries ten times, with backoff).
    retry = Retry(NoBackoff(), config.retries, supported_errors=(RedisConnectionError,))
    return {
        "socket_connect_timeout": config.socket_connect_timeout,
        "socket_timeout": config.socket_timeout,
        "retry": retry,
    }
