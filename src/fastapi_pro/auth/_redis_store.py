"""`RedisTokenStore`: refresh-token families and the access-token denylist in Redis.

Every worker and process that shares the Redis server shares the store. Each operation is one
round trip; those that read before they write run as Lua scripts, so they are atomic.

Keys, under the store's prefix:

- ``family:<family_id>``: a hash (``subject``, ``current``, ``revoked``) that expires when the
  family does; a revoked family is kept until then, so a replayed token stays refused.
- ``subject:<subject>``: the set of the subject's family ids, kept as long as its longest-lived
  family, for `RedisTokenStore.revoke_subject`.
- ``denied:<jti>``: present while the access token is denied.

The scripts derive the subject key from the family's hash, so on Redis Cluster give the store
a prefix with a hash tag (``"fastapi-pro:{auth}:"``) to keep every key in one slot.

A refused, reset or timed-out connection (or a read-only or full server) becomes
`TokenStoreUnavailableError`, a 503 with ``Retry-After``; the client's own socket timeouts
bound how long that takes. Each kind of failure is logged once, then at most once a minute
while it lasts, and once more when Redis answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeVar

from fastapi_pro.auth._errors import TokenStoreUnavailableError
from fastapi_pro.auth._store import RotationResult

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

_INSTALL = 'RedisTokenStore needs redis; install it with: pip install "fastapi-pro[redis]"'

# Extends the expiry of the key KEYS[n] to ARGV[m] (milliseconds since the epoch) unless it
# already lasts longer; PEXPIREAT's GT option would need Redis 7.
_EXTEND = """
local function extend(key, at)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 then
    redis.call('PEXPIREAT', key, at)
    return
  end
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if now_ms + ttl < tonumber(at) then
    redis.call('PEXPIREAT', key, at)
  end
end
"""

# KEYS[1] family hash, KEYS[2] subject set; ARGV: family id, subject, token id, expiry (ms).
_START = (
    _EXTEND
    + """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'subject', ARGV[2], 'current', ARGV[3], 'revoked', '0')
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
extend(KEYS[2], ARGV[4])
return 1
"""
)

# KEYS[1] family hash; ARGV: family id, token id, new token id, expiry (ms), subject key
# prefix. Returns 0 rotated, 1 reused, 2 revoked.
_ROTATE = (
    _EXTEND
    + """
local family = redis.call('HMGET', KEYS[1], 'subject', 'current', 'revoked')
if not family[1] or family[3] ~= '0' then
  return 2
end
if family[2] ~= ARGV[2] then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return 1
end
redis.call('HSET', KEYS[1], 'current', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
local subject = ARGV[5] .. family[1]
redis.call('SADD', subject, ARGV[1])
extend(subject, ARGV[4])
return 0
"""
)

# KEYS[1] family hash. Returns 1 when a live family was revoked by this call.
_REVOKE_FAMILY = """
if redis.call('HGET', KEYS[1], 'revoked') == '0' then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return 1
end
return 0
"""

# KEYS[1] subject set; ARGV: family key prefix, subject. Forgets families that expired or now
# belong to another subject; returns how many live families this call revoked.
_REVOKE_SUBJECT = """
local revoked = 0
for _, family_id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. family_id
  local family = redis.call('HMGET', key, 'subject', 'revoked')
  if family[1] ~= ARGV[2] then
    redis.call('SREM', KEYS[1], family_id)
  elseif family[2] == '0' then
    redis.call('HSET', key, 'revoked', '1')
    revoked = revoked + 1
  end
end
return revoked
"""

_RESULTS: Final[tuple[RotationResult, ...]] = ("rotated", "reused", "revoked")

LOG_INTERVAL = 60.0
"""Seconds between two log lines about the same kind of Redis failure."""

logger = logging.getLogger("fastapi_pro.auth")

T = TypeVar("T")


def _milliseconds(moment: datetime) -> int:
    # Redis refuses expiry times that are not positive; any past time expires the key at once.
    return max(1, int(moment.timestamp() * 1000))


def _faults() -> tuple[type[BaseException], ...]:
    """The errors that mean Redis is away, not that the store was misused."""
    try:
        import redis.asyncio  # noqa: F401, PLC0415 - the redis extra is optional
        from redis import exceptions  # noqa: PLC0415
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    return (
        exceptions.ConnectionError,  # refused, reset, still loading, wrong password
        exceptions.TimeoutError,
        exceptions.ReadOnlyError,  # a replica, during a failover
        exceptions.OutOfMemoryError,
        OSError,
        TimeoutError,
    )


class _OutageLog:
    """Logs a kind of failure once, then at most every `LOG_INTERVAL` seconds, and recovery."""

    def __init__(self) -> None:
        self._logged_at: dict[str, float] = {}
        self._repeats: dict[str, int] = {}

    def failed(self, error: BaseException) -> None:
        kind, now = type(error).__name__, time.monotonic()
        logged_at = self._logged_at.get(kind)
        if logged_at is not None and now - logged_at < LOG_INTERVAL:
            self._repeats[kind] = self._repeats.get(kind, 0) + 1
            return
        self._logged_at[kind] = now
        repeats = self._repeats.pop(kind, 0)
        logger.warning(
            "The Redis token store is unavailable (%s: %s); requests that need it are "
            "answered 503 token_store_unavailable.%s",
            kind,
            str(error)[:200],
            f" {repeats} more failures of this kind since the last line." if repeats else "",
        )

    def succeeded(self) -> None:
        if self._logged_at:
            self._logged_at.clear()
            self._repeats.clear()
            logger.info("The Redis token store answers again.")


class RedisTokenStore:
    """A `TokenStore` in Redis, shared by every process that uses the same server and prefix.

    Example:
        ```python
        from redis.asyncio import Redis

        store = RedisTokenStore(Redis.from_url("redis://localhost:6379/0"))
        ```

    Args:
        client: The redis-py asyncio client; the store never closes it. Its
            ``socket_connect_timeout`` and ``socket_timeout`` bound every operation: give it
            short ones (`setup` uses the ``redis`` settings' two seconds).
        prefix: Prepended to every key the store writes.
        retry_after: Seconds sent as ``Retry-After`` when Redis cannot be reached.

    Raises:
        ImportError: If redis (the ``redis`` extra) is not installed.
    """

    def __init__(
        self, client: Redis, *, prefix: str = "fastapi-pro:auth:", retry_after: float = 1
    ) -> None:
        self._faults = _faults()
        self._outage = _OutageLog()
        self.client = client
        self.prefix = prefix
        self.retry_after = retry_after
        self._start: AsyncScript = client.register_script(_START)
        self._rotate: AsyncScript = client.register_script(_ROTATE)
        self._revoke_family: AsyncScript = client.register_script(_REVOKE_FAMILY)
        self._revoke_subject: AsyncScript = client.register_script(_REVOKE_SUBJECT)

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self.prefix!r})"

    async def _call(self, command: Awaitable[T]) -> T:
        """Await one Redis command, translating a fault into `TokenStoreUnavailableError`."""
        try:
            result = await command
        except self._faults as error:
            self._outage.failed(error)
            msg = "The token store cannot be reached; try again shortly."
            raise TokenStoreUnavailableError(msg, retry_after=self.retry_after) from error
        self._outage.succeeded()
        return result

    def _family_key(self, family_id: str) -> str:
        return f"{self.prefix}family:{family_id}"

    def _subject_key(self, subject: str) -> str:
        return f"{self.prefix}subject:{subject}"

    def _denied_key(self, token_id: str) -> str:
        return f"{self.prefix}denied:{token_id}"

    async def start_family(
        self, family_id: str, subject: str, token_id: str, expires_at: datetime
    ) -> None:
        """Record a new refresh-token family whose current token is ``token_id``."""
        await self._call(
            self._start(
                keys=[self._family_key(family_id), self._subject_key(subject)],
                args=[family_id, subject, token_id, _milliseconds(expires_at)],
            )
        )

    async def rotate(
        self, family_id: str, token_id: str, new_token_id: str, expires_at: datetime
    ) -> RotationResult:
        """Replace the family's current token ``token_id`` by ``new_token_id``, atomically."""
        outcome = await self._call(
            self._rotate(
                keys=[self._family_key(family_id)],
                args=[
                    family_id,
                    token_id,
                    new_token_id,
                    _milliseconds(expires_at),
                    self._subject_key(""),
                ],
            )
        )
        return _RESULTS[int(outcome)]

    async def revoke_family(self, family_id: str) -> None:
        """Revoke one family (logout of one session); it stays refused until it expires."""
        await self._call(self._revoke_family(keys=[self._family_key(family_id)]))

    async def revoke_subject(self, subject: str) -> int:
        """Revoke every live family of ``subject`` (logout everywhere); return how many."""
        revoked = await self._call(
            self._revoke_subject(
                keys=[self._subject_key(subject)], args=[self._family_key(""), subject]
            )
        )
        return int(revoked)

    async def deny(self, token_id: str, expires_at: datetime) -> None:
        """Put an access token's ``jti`` on the denylist until ``expires_at``."""
        key = self._denied_key(token_id)
        await self._call(self.client.set(key, b"1", pxat=_milliseconds(expires_at)))

    async def is_denied(self, token_id: str) -> bool:
        """Whether an access token's ``jti`` is on the denylist."""
        return bool(await self._call(self.client.exists(self._denied_key(token_id))))
