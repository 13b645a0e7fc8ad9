"""Per-caller read positions in Redis (shared by replicas), or in memory for tests."""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from gateway.application.ports import ReadMarks

# Per key, keep the larger of the stored and the new position; refresh the expiry either
# way. The first key keeps the highest position acknowledged to anyone, without expiry.
# KEYS: that key, then one per caller; ARGV: the expiry, then one position per caller key.
_REMEMBER_MAX = """
local ttl = ARGV[1]
local issued = tonumber(redis.call('GET', KEYS[1]) or '0')
local highest = issued
for i = 2, #KEYS do
  local key = KEYS[i]
  local current = tonumber(redis.call('GET', key) or '0')
  local candidate = tonumber(ARGV[i])
  if candidate > current then
    redis.call('SET', key, ARGV[i], 'EX', ttl)
  else
    redis.call('EXPIRE', key, ttl)
  end
  if candidate > highest then
    highest = candidate
  end
end
if highest > issued then
  redis.call('SET', KEYS[1], string.format('%d', highest))
end
return #KEYS - 1
"""


class RedisReadPositions:
    def __init__(self, redis: Redis, key_prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}gateway:read-position:"
        self._issued_key = f"{key_prefix}gateway:read-position-issued"
        self._ttl = ttl_seconds
        self._script = redis.register_script(_REMEMBER_MAX)

    async def remember(self, caller_id: str, position: int) -> None:
        await self.remember_many({caller_id: position})

    async def remember_many(self, positions: Mapping[str, int]) -> None:
        if positions:
            await self._script(
                keys=[self._issued_key, *(self._prefix + caller_id for caller_id in positions)],
                args=[self._ttl, *positions.values()],
            )

    async def latest(self, caller_id: str) -> int:
        return (await self.marks(caller_id)).caller

    async def marks(self, caller_id: str) -> ReadMarks:
        caller, issued = await self._redis.mget(self._prefix + caller_id, self._issued_key)
        return ReadMarks(caller=int(caller) if caller else 0, issued=int(issued) if issued else 0)


class InMemoryReadPositions:
    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.issued = 0

    async def remember(self, caller_id: str, position: int) -> None:
        self.positions[caller_id] = max(position, self.positions.get(caller_id, 0))
        self.issued = max(position, self.issued)

    async def remember_many(self, positions: Mapping[str, int]) -> None:
        for caller_id, position in positions.items():
            await self.remember(caller_id, position)

    async def latest(self, caller_id: str) -> int:
        return self.positions.get(caller_id, 0)

    async def marks(self, caller_id: str) -> ReadMarks:
        return ReadMarks(caller=self.positions.get(caller_id, 0), issued=self.issued)
