"""The ``limits`` storages and strategies a `RateLimiter` counts with."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from prometheus_client import CollectorRegistry, Counter

from fastapi_pro.settings import RateLimitStrategy

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("fastapi_pro.ratelimit")

STRATEGIES: dict[RateLimitStrategy, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
}
"""Each strategy's name in the settings, and the ``limits`` class that counts with it."""


def check_strategy(strategy: str | None) -> None:
    """Refuse a strategy name that is not one of `STRATEGIES` (``None`` is the limiter's).

    Raises:
        ValueError: Naming the strategies there are.
    """
    if strategy is not None and strategy not in STRATEGIES:
        known = ", ".join(STRATEGIES)
        msg = f"Unknown rate-limit strategy {strategy!r}; use one of: {known}."
        raise ValueError(msg)


STORAGE_ERRORS = (StorageError, OSError, TimeoutError)
"""What a failed or slow storage raises (``limits`` wraps the client's own errors)."""


def memory_storage() -> Storage:
    """Counters in this process's memory: exact for one process, not shared between several."""
    return MemoryStorage(wrap_exceptions=True)


def redis_storage(client: Redis, key_prefix: str) -> Storage:
    """Counters in Redis, on ``client``'s connection pool (so on its timeouts and retries).

    Uses the ``limits`` implementation on redis-py (the ``redis`` extra); every key starts
    with ``key_prefix``.
    """
    from limits.aio.storage import RedisStorage  # noqa: PLC0415 - needs the redis extra

    # ``limits`` types its options as scalars; it hands them to redis-py's client unchanged.
    options: dict[str, Any] = {"connection_pool": client.connection_pool}
    return RedisStorage(
        "async+redis://",
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix=key_prefix,
        **options,
    )


class Outage:
    """Storage failures: one log line when they start and one when they end, each counted.

    Args:
        registry: Where ``ratelimit_storage_failures_total`` is registered.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.down = False
        self.failures = Counter(
            "ratelimit_storage_failures",
            "Rate-limit checks the storage failed or was too slow for, by what was done.",
            ("outcome",),
            registry=registry,
        )

    def failed(self, error: BaseException, *, fail_open: bool) -> None:
        """Count a failed check; log the first one of an outage."""
        outcome = "allowed" if fail_open else "refused"
        self.failures.labels(outcome).inc()
        if not self.down:
            self.down = True
            logger.warning(
                "Rate-limit storage unavailable (%s); requests are %s until it answers again.",
                _describe(error),
                outcome,
            )

    def recovered(self) -> None:
        """Log the end of an outage, once."""
        if self.down:
            self.down = False
            logger.info("Rate-limit storage answers again.")


def _describe(error: BaseException) -> str:
    """The failure's kind (``ConnectionError``, ``TimeoutError``), never its text."""
    inner = error.storage_error if isinstance(error, StorageError) else error
    return type(inner).__name__
