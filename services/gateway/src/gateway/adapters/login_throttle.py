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
        try:
            left = float(await self._retry_after(keys=[self._key(account)]))
        except Exception:
            # The hashing pool still bounds the work; losing backoff for a moment beats
            # refusing every login.
            logger.warning("login throttle unavailable; letting the login through", exc_info=True)
            return 0
        return math.ceil(left)

    async def record_failure(self, account: str) -> int:
        try:
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
        except Exception:
            logger.warning("login throttle unavailable; failure not counted", exc_info=True)
            return 0

    async def reset(self, account: str) -> None:
        try:
            await self._redis.delete(self._key(account))
        except Exception:
            logger.warning("login throttle unavailable; failures not reset", exc_info=True)

    def _key(self, account: str) -> str:
        return self._prefix + account_key(account)


class InMemoryLoginThrottle:
    """The same rules in one process, for tests."""

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
