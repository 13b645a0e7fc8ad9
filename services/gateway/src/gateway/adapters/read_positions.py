"""Per-caller read positions in Redis (shared by replicas), or in memory for tests."""

from __future__ import annotations

from redis.asyncio import Redis

# Keep the larger of the stored and the new position; refresh the expiry either way.
_REMEMBER_MAX = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local candidate = tonumber(ARGV[1])
if candidate > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return math.max(current, candidate)
"""


class RedisReadPositions:
    def __init__(self, redis: Redis, key_prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}gateway:read-position:"
        self._ttl = ttl_seconds
        self._script = redis.register_script(_REMEMBER_MAX)

    async def remember(self, caller_id: str, position: int) -> None:
        await self._script(keys=[self._prefix + caller_id], args=[position, self._ttl])

    async def latest(self, caller_id: str) -> int:
        value = await self._redis.get(self._prefix + caller_id)
        return int(value) if value else 0


class InMemoryReadPositions:
    def __init__(self) -> None:
        self.positions: dict[str, int] = {}

    async def remember(self, caller_id: str, position: int) -> None:
        self.positions[caller_id] = max(position, self.positions.get(caller_id, 0))

    async def latest(self, caller_id: str) -> int:
        return self.positions.get(caller_id, 0)
