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
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

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


def _milliseconds(moment: datetime) -> int:
    # Redis refuses expiry times that are not positive; any past time expires the key at once.
    return max(1, int(moment.timestamp() * 1000))


def _require_redis() -> None:
    try:
        import redis.asyncio  # noqa: F401, PLC0415 - the redis extra is optional
    except ImportError as error:
        raise ImportError(_INSTALL) from error


class RedisTokenStore:
    """A `TokenStore` in Redis, shared by every process that uses the same server and prefix.

    Example:
        ```python
        from redis.asyncio import Redis

        store = RedisTokenStore(Redis.from_url("redis://localhost:6379/0"))
        ```

    Args:
        client: The redis-py asyncio client; the store never closes it.
        prefix: Prepended to every key the store writes.

    Raises:
        ImportError: If redis (the ``redis`` extra) is not installed.
    """

    def __init__(self, client: Redis, *, prefix: str = "fastapi-pro:auth:") -> None:
        _require_redis()
        self.client = client
        self.prefix = prefix
        self._start: AsyncScript = client.register_script(_START)
        self._rotate: AsyncScript = client.register_script(_ROTATE)
        self._revoke_family: AsyncScript = client.register_script(_REVOKE_FAMILY)
        self._revoke_subject: AsyncScript = client.register_script(_REVOKE_SUBJECT)

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self.prefix!r})"

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
        await self._start(
            keys=[self._family_key(family_id), self._subject_key(subject)],
            args=[family_id, subject, token_id, _milliseconds(expires_at)],
        )

    async def rotate(
        self, family_id: str, token_id: str, new_token_id: str, expires_at: datetime
    ) -> RotationResult:
        """Replace the family's current token ``token_id`` by ``new_token_id``, atomically."""
        outcome = await self._rotate(
            keys=[self._family_key(family_id)],
            args=[
                family_id,
                token_id,
                new_token_id,
                _milliseconds(expires_at),
                self._subject_key(""),
            ],
        )
        return _RESULTS[int(outcome)]

    async def revoke_family(self, family_id: str) -> None:
        """Revoke one family (logout of one session); it stays refused until it expires."""
        await self._revoke_family(keys=[self._family_key(family_id)])

    async def revoke_subject(self, subject: str) -> int:
        """Revoke every live family of ``subject`` (logout everywhere); return how many."""
        revoked = await self._revoke_subject(
            keys=[self._subject_key(subject)], args=[self._family_key(""), subject]
        )
        return int(revoked)

    async def deny(self, token_id: str, expires_at: datetime) -> None:
        """Put an access token's ``jti`` on the denylist until ``expires_at``."""
        await self.client.set(self._denied_key(token_id), b"1", pxat=_milliseconds(expires_at))

    async def is_denied(self, token_id: str) -> bool:
        """Whether an access token's ``jti`` is on the denylist."""
        return bool(await self.client.exists(self._denied_key(token_id)))
