"""Failed logins per account in Redis, with exponential backoff, shared by every replica.

The first `free_failures - 1` failures cost nothing; the next one blocks the account for
`initial_seconds`, and each failure after a block doubles it up to `max_seconds`. A blocked
attempt is refused before any password is hashed and is not counted. Accounts are keyed by
a digest of the normalised email, known or not, so the answers reveal no accounts.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

# A failure is forgotten after an hour without another one; a successful login forgets it too.
FAILURE_MEMORY_SECONDS = 3600


@dataclass(frozen=True)
class Backoff:
    free_failures: int
    initial_seconds: int
    max_seconds: int

    def delay_after(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        doublings = min(failures - self.free_failures, 32)
        return min(self.max_seconds, self.initial_seconds * (1 << doublings))


def account_key(account: str) -> str:
    return hashlib.sha256(account.encode()).hexdigest()


# KEYS[1]: the account's hash. Returns the seconds left on its block (fractional, as text).
_RETRY_AFTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local blocked_until = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
return tostring(math.max(0, blocked_until - now))
"""

# KEYS[1]: the account's hash. ARGV: free failures, initial seconds, max seconds, memory.
_RECORD_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free, initial, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local delay = 0
if failures >= free then
  delay = math.min(max, initial * 2 ^ (failures - free))
  redis.call('HSET', KEYS[1], 'blocked_until', tostring(now + delay))
end
redis.call('EXPIRE', KEYS[1], math.max(tonumber(ARGV[4]), max * 2))
return delay
"""


class RedisLoginThrottle:
    def __init__(self, redis: Redis, key_prefix: str, backoff: Backoff) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}gateway:login-failures:"
        self._backoff = backoff
        self._retry_after = redis.register_script(_RETRY_AFTER)
        self._record_failure = redis.register_script(_RECORD_FAILURE)

    async def retry_after(self, account: str) -> int:
        left = float(await self._retry_after(keys=[self._key(account)]))
        return math.ceil(left)

    async def record_failure(self, account: str) -> int:
        return int(
            await self._record_failure(
                keys=[self._key(account)],
                args=[
                    self._backoff.free_failures,
                    self._backoff.initial_seconds,
                    self._backoff.max_seconds,
                    FAILURE_MEMORY_SECONDS,
                ],
            )
        )

    async def reset(self, account: str) -> None:
        await self._redis.delete(self._key(account))

    def _key(self, account: str) -> str:
        return self._prefix + account_key(account)


class InMemoryLoginThrottle:
    """The same rules in one process: for tests, and while Redis is away."""

    def __init__(self, backoff: Backoff, clock: Callable[[], float] = time.time) -> None:
        self._backoff = backoff
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._blocked_until: dict[str, float] = {}

    async def retry_after(self, account: str) -> int:
        return math.ceil(max(0.0, self._blocked_until.get(account, 0.0) - self._clock()))

    async def record_failure(self, account: str) -> int:
        failures = self._failures[account] = self._failures.get(account, 0) + 1
        delay = self._backoff.delay_after(failures)
        if delay:
            self._blocked_until[account] = self._clock() + delay
        return delay

    async def reset(self, account: str) -> None:
        self._failures.pop(account, None)
        self._blocked_until.pop(account, None)


class LoginThrottleWithFallback:
    """Backoff counted in Redis; while Redis is away, in this process alone (the same rules,
    so an account gets its free failures once per replica: the password hashing pool still
    bounds the work)."""

    def __init__(self, shared: RedisLoginThrottle, local: InMemoryLoginThrottle) -> None:
        self._shared = shared
        self._local = local
        self.shared_away = False

    async def retry_after(self, account: str) -> int:
        try:
            shared = await self._shared.retry_after(account)
        except Exception:
            self._away()
            return await self._local.retry_after(account)
        self._back()
        return max(shared, await self._local.retry_after(account))

    async def record_failure(self, account: str) -> int:
        try:
            delay = await self._shared.record_failure(account)
        except Exception:
            self._away()
            return await self._local.record_failure(account)
        self._back()
        return delay

    async def reset(self, account: str) -> None:
        await self._local.reset(account)
        try:
            await self._shared.reset(account)
        except Exception:
            self._away()

    def _away(self) -> None:
        if not self.shared_away:
            self.shared_away = True
            logger.warning("login throttle unavailable; counting in this process", exc_info=True)

    def _back(self) -> None:
        if self.shared_away:
            self.shared_away = False
            logger.info("login throttle back; counting in Redis again")
