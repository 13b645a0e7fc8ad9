"""Per-caller read positions in Redis (shared by replicas), or in memory for tests."""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

# Per key, keep the larger of the stored and the new position; refresh the expiry either
# way. KEYS: one per caller; ARGV: the expiry, then one position per key.
_REMEMBER_MAX = """
local ttl = ARGV[1]
for i, key in ipairs(KEYS) do
  local current = tonumber(redis.call('GET', key) or '0')
  local candidate = tonumber(ARGV[i + 1])
  if candidate > current then
    redis.call('SET', key, ARGV[i + 1], 'EX', ttl)
  else
    redis.call('EXPIRE', key, ttl)
  end
end
return #KEYS
"""


class RedisReadPositions:
    def __init__(self, redis: Redis, key_prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}gateway:read-position:"
        self._ttl = ttl_seconds
        self._script = redis.register_script(_REMEMBER_MAX)

    async def remember(self, caller_id: str, position: int) -> None:
        await self.remember_many({caller_id: position})

    async def remember_many(self, positions: Mapping[str, int]) -> None:
        if positions:
            await self._script(
                keys=[self._prefix + caller_id for caller_id in positions],
                args=[self._ttl, *positions.values()],
            )

    async def latest(self, caller_id: str) -> int:
        value = await self._redis.get(self._prefix + caller_id)
        return int(value) if value else 0


class InMemoryReadPositions:
    def __init__(self) -> None:
        self.positions: dict[str, int] = {}

    async def remember(self, caller_id: str, position: int) -> None:
        self.positions[caller_id] = max(position, self.positions.get(caller_id, 0))

    async def remember_many(self, positions: Mapping[str, int]) -> None:
        for caller_id, position in positions.items():
            await self.remember(caller_id, position)

    async def latest(self, caller_id: str) -> int:
        return self.positions.get(caller_id, 0)
