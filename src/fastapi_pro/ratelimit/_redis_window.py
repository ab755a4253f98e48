"""Every moving-window limit of a route checked in Redis by one script: one round trip.

The ``limits`` package checks one limit per call and reads its window in another; a route
with two limits would cost four round trips, and a request refused by the second limit would
still count against the first. This script checks every limit, admits the request only if
all of them have room, and returns each window, atomically. It keeps the ``limits`` moving
window's keys and layout (a list of timestamps per key), so ``limits`` reads and clears them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from limits.aio.storage import RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.errors import StorageError

from fastapi_pro.ratelimit._policy import Policy, Quota

# KEYS: one list per limit. ARGV: the time, the cost, then each limit's quota and window.
SCRIPT = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local function bounds(i)
  return tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
end
local function window(key, quota, expiry)
  local low, high, found = 0, quota - 1, nil
  while low <= high do
    local mid = math.floor((low + high) / 2)
    local value = tonumber(redis.call('lindex', key, mid))
    if value and value >= now - expiry then found = mid; low = mid + 1 else high = mid - 1 end
  end
  if found then return found + 1, redis.call('lindex', key, found) end
  return 0, ARGV[1]
end
local refused = 0
for i = 1, #KEYS do
  local quota, expiry = bounds(i)
  local entry = redis.call('lindex', KEYS[i], quota - cost)
  if cost > quota or (entry and tonumber(entry) >= now - expiry) then
    refused = i
    break
  end
end
if refused == 0 then
  for i = 1, #KEYS do
    local quota, expiry = bounds(i)
    for _ = 1, cost do redis.call('lpush', KEYS[i], now) end
    redis.call('ltrim', KEYS[i], 0, quota - 1)
    redis.call('expire', KEYS[i], expiry)
  end
end
local reply = {refused}
for i = 1, (refused == 0 and #KEYS or refused) do
  local quota, expiry = bounds(i)
  local count, oldest = window(KEYS[i], quota, expiry)
  reply[#reply + 1] = count
  reply[#reply + 1] = oldest
end
return reply
"""


class RedisMovingWindow:
    """Checks a route's moving-window limits in one script on a ``limits`` Redis storage."""

    def __init__(self, bridge: RedispyBridge) -> None:
        self._prefixed = bridge.prefixed_key
        self._errors = bridge.base_exceptions
        client: Any = bridge.get_connection()  # a redis.asyncio.Redis
        self._script = client.register_script(SCRIPT)

    @classmethod
    def over(cls, storage: Storage) -> RedisMovingWindow | None:
        """One for ``storage`` when it is a ``limits`` Redis storage on one redis-py server.

        ``None`` for other storages, and for a cluster, whose keys may live on several nodes.
        """
        if isinstance(storage, RedisStorage) and storage.MODE == "BASIC":
            bridge = storage.bridge
            return cls(bridge) if isinstance(bridge, RedispyBridge) else None
        return None

    async def hit(
        self, policies: Sequence[Policy], identifiers: tuple[str, ...], cost: int
    ) -> tuple[list[Quota], Quota | None]:
        """Count ``cost`` against every policy if all have room; see `RateLimiter.hit`.

        Raises:
            limits.errors.StorageError: When Redis fails.
        """
        now = time.time()
        keys = [self._prefixed(policy.item.key_for(*identifiers)) for policy in policies]
        bounds = itertools.chain.from_iterable((p.quota, p.window) for p in policies)
        try:
            reply: list[Any] = await self._script(keys=keys, args=[now, cost, *bounds])
        except self._errors as error:
            raise StorageError(error) from error
        refused, windows = int(reply[0]), reply[1:]
        quotas = [
            # The window minus the oldest entry's age: never above the window, as
            # ``oldest + window - now`` can be by a rounding error when the oldest is now.
            Quota(policy, policy.quota - int(count), policy.window - (now - float(oldest)))
            for policy, count, oldest in zip(policies, windows[0::2], windows[1::2], strict=False)
        ]
        return quotas, quotas[refused - 1] if refused else None
