"""Sliding-window rate limits, counted in Redis so every replica shares one count.

Each group counts requests per fixed window of its rule (e.g. one minute) and
estimates the sliding window as `previous * (1 - elapsed fraction) + current`.
All the groups a request passes are checked and counted in ONE Lua script call
(one Redis round trip per request); a request is counted only when every group
allows it. The script uses Redis' clock, so replicas agree on the windows.

Failures (failed logins, sign-ups with a taken email) are limited per address the other
way round: an attempt only looks at the count (`peek`), and only a failure is counted
(`add`), so the successes of a crowd behind one address use none of its allowance.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from limits import RateLimitItem, parse
from redis.asyncio import Redis

from gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


@dataclass(frozen=True)
class WindowCheck:
    """One group's counter for one identity: `limit` requests per `window_seconds`."""

    key: str
    limit: int
    window_seconds: int


# hit: count the request when every check allows it; peek: count nothing; add: count it
# whatever the checks decide (something that already happened, e.g. a failed login).
Counting = Literal["hit", "peek", "add"]


class WindowCounters(Protocol):
    async def hit(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        """Decides every check and counts the request in all of them when all allow it."""

    async def peek(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        """Decides every check, counting nothing."""

    async def add(self, checks: Sequence[WindowCheck]) -> None:
        """Counts one more in every check, whatever they decide."""


LOGIN_FAILURES = "login-failures"
REGISTER_TAKEN_EMAILS = "register-taken-emails"


def rules_from_settings(settings: GatewaySettings) -> dict[str, RateLimitItem]:
    return {
        "default": parse(settings.rate_limit_default),
        "register": parse(settings.rate_limit_register),
        "booking": parse(settings.rate_limit_booking),
        LOGIN_FAILURES: parse(settings.rate_limit_login_failures),
        REGISTER_TAKEN_EMAILS: parse(settings.rate_limit_register_taken_emails),
    }


@dataclass(frozen=True)
class _Window:
    start: float
    current: int
    previous: int


def _decide(check: WindowCheck, now: float, window: _Window) -> tuple[bool, float, float]:
    """(allowed, estimated count before this request, reset time) of one sliding window."""
    size = check.window_seconds
    elapsed = (now - window.start) / size
    estimated = window.previous * (1 - elapsed) + window.current
    allowed = estimated + 1 <= check.limit
    if allowed:
        return True, estimated, window.start + size
    room = check.limit - 1  # the estimate must drop to this for one more request
    if window.current <= room and window.previous > 0:
        # The previous window's weight fades within the current one.
        return (
            False,
            estimated,
            window.start + size * (1 - (room - window.current) / window.previous),
        )
    fraction = 1 - room / window.current if window.current > 0 else 1
    return False, estimated, window.start + size + size * fraction


# KEYS: one base key per group. ARGV: the counting ('hit', 'peek' or 'add'), then limit
# and window seconds per group. Returns per group: allowed (0/1), remaining, reset time
# (a string: Lua numbers become integers on the way out).
_SLIDING_WINDOWS = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local counting = ARGV[1]
local n = #KEYS
local current_keys, decisions = {}, {}
local all_allowed = true
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local size = tonumber(ARGV[2 * i + 1])
  local index = math.floor(now / size)
  local start = index * size
  current_keys[i] = KEYS[i] .. ':' .. index
  local current = tonumber(redis.call('GET', current_keys[i]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[i] .. ':' .. (index - 1)) or '0')
  local estimated = previous * (1 - (now - start) / size) + current
  local allowed = estimated + 1 <= limit
  local reset
  if allowed then
    reset = start + size
  elseif current <= limit - 1 and previous > 0 then
    reset = start + size * (1 - (limit - 1 - current) / previous)
  elseif current > 0 then
    reset = start + size + size * (1 - (limit - 1) / current)
  else
    reset = start + 2 * size
  end
  if not allowed then all_allowed = false end
  decisions[i] = {allowed, estimated, reset, limit, size}
end
local count = counting == 'add' or (counting == 'hit' and all_allowed)
local result = {}
for i = 1, n do
  local d = decisions[i]
  local estimated = d[2]
  if count then
    redis.call('INCR', current_keys[i])
    redis.call('EXPIRE', current_keys[i], 2 * d[5])
    estimated = estimated + 1
  end
  result[3 * i - 2] = d[1] and 1 or 0
  result[3 * i - 1] = math.max(0, math.floor(d[4] - estimated))
  result[3 * i] = tostring(d[3])
end
return result
"""


class RedisWindowCounters:
    def __init__(self, redis: Redis, key_prefix: str) -> None:
        self._prefix = f"{key_prefix}gateway:rate-limit:"
        self._script = redis.register_script(_SLIDING_WINDOWS)

    async def hit(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        return await self._run("hit", checks)

    async def peek(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        return await self._run("peek", checks)

    async def add(self, checks: Sequence[WindowCheck]) -> None:
        await self._run("add", checks)

    async def _run(
        self, counting: Counting, checks: Sequence[WindowCheck]
    ) -> list[RateLimitDecision]:
        args: list[str | int] = [counting]
        for check in checks:
            args += [check.limit, check.window_seconds]
        raw = await self._script(keys=[self._prefix + check.key for check in checks], args=args)
        return [
            RateLimitDecision(
                allowed=bool(raw[3 * i]),
                limit=check.limit,
                remaining=int(raw[3 * i + 1]),
                reset_at=float(raw[3 * i + 2]),
            )
            for i, check in enumerate(checks)
        ]


class InMemoryWindowCounters:
    """The same algorithm in one process, for tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}

    async def hit(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        return self._run("hit", checks)

    async def peek(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        return self._run("peek", checks)

    async def add(self, checks: Sequence[WindowCheck]) -> None:
        self._run("add", checks)

    def _run(self, counting: Counting, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        now = self._clock()
        decided = []
        for check in checks:
            index = math.floor(now / check.window_seconds)
            window = _Window(
                start=index * check.window_seconds,
                current=self._counts.get((check.key, index), 0),
                previous=self._counts.get((check.key, index - 1), 0),
            )
            decided.append((check, index, *_decide(check, now, window)))
        count = counting == "add" or (
            counting == "hit" and all(allowed for _, _, allowed, _, _ in decided)
        )
        decisions = []
        for check, index, allowed, estimated, reset_at in decided:
            if count:
                self._counts[(check.key, index)] = self._counts.get((check.key, index), 0) + 1
                estimated += 1
            decisions.append(
                RateLimitDecision(
                    allowed=allowed,
                    limit=check.limit,
                    remaining=max(0, math.floor(check.limit - estimated)),
                    reset_at=reset_at,
                )
            )
        return decisions


class WindowCountersWithFallback:
    """The shared counts in Redis; while Redis is away, this process's own counts, each limit
    cut to `share` of itself (1 / the replicas keeps the total the same). What was counted
    in Redis before stays there, so limits pick up from it when Redis answers again (or
    from nothing, when it came back empty)."""

    def __init__(
        self,
        shared: WindowCounters,
        share: float,
        local: InMemoryWindowCounters | None = None,
    ) -> None:
        self._shared = shared
        self._share = share
        self._local = local or InMemoryWindowCounters()
        self.shared_away = False

    async def hit(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        try:
            decisions = await self._shared.hit(checks)
        except Exception:
            self._away()
            return await self._local.hit(self._cut(checks))
        self._back()
        return decisions

    async def peek(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        try:
            decisions = await self._shared.peek(checks)
        except Exception:
            self._away()
            return await self._local.peek(self._cut(checks))
        self._back()
        return decisions

    async def add(self, checks: Sequence[WindowCheck]) -> None:
        try:
            await self._shared.add(checks)
        except Exception:
            self._away()
            await self._local.add(self._cut(checks))
            return
        self._back()

    def _cut(self, checks: Sequence[WindowCheck]) -> list[WindowCheck]:
        return [
            WindowCheck(
                key=check.key,
                limit=max(1, math.floor(check.limit * self._share)),
                window_seconds=check.window_seconds,
            )
            for check in checks
        ]

    def _away(self) -> None:
        if not self.shared_away:
            self.shared_away = True
            logger.warning(
                "rate limit storage unavailable; counting in this process (%g of each limit)",
                self._share,
                exc_info=True,
            )

    def _back(self) -> None:
        if self.shared_away:
            self.shared_away = False
            logger.info("rate limit storage back; counting in Redis again")


class RateLimiter:
    def __init__(
        self, counters: WindowCounters, rules: dict[str, RateLimitItem], *, enabled: bool = True
    ):
        self._counters = counters
        self._rules = rules
        self.enabled = enabled

    async def hit(self, groups: Sequence[str], identity: str) -> RateLimitDecision | None:
        """Count one request of `identity` in every group; the most restrictive decision.

        None when limits are off, no group has a rule, or no count could be made.
        """
        return await self._decide(self._counters.hit, groups, identity)

    async def peek(self, group: str, identity: str) -> RateLimitDecision | None:
        """Whether one more of `group`'s requests from `identity` is allowed, counting nothing."""
        return await self._decide(self._counters.peek, [group], identity)

    async def add(self, group: str, identity: str) -> None:
        """Count one of `group`'s requests from `identity` that already happened."""
        checks = self._checks([group], identity)
        if not checks:
            return
        try:
            await self._counters.add(checks)
        except Exception:
            logger.warning("rate limit storage unavailable; request not counted", exc_info=True)

    async def _decide(
        self,
        counters: Callable[[Sequence[WindowCheck]], Awaitable[list[RateLimitDecision]]],
        groups: Sequence[str],
        identity: str,
    ) -> RateLimitDecision | None:
        checks = self._checks(groups, identity)
        if not checks:
            return None
        try:
            decisions = await counters(checks)
        except Exception:
            # Losing rate limits for a moment beats refusing every request.
            logger.warning(
                "rate limit storage unavailable; letting the request through", exc_info=True
            )
            return None
        return min(decisions, key=lambda decision: (decision.allowed, decision.remaining))

    def _checks(self, groups: Sequence[str], identity: str) -> list[WindowCheck]:
        """Nothing to check when limits are off or no group has a rule."""
        if not self.enabled:
            return []
        return [
            WindowCheck(
                key=f"{group}:{identity}",
                limit=rule.amount,
                window_seconds=rule.get_expiry(),
            )
            for group in groups
            if (rule := self._rules.get(group)) is not None
        ]


class RateLimitedFailures:
    """Failures of one kind (e.g. failed logins) from each client address, counted in one
    group's sliding window: an address that reached the limit waits until they fade."""

    def __init__(self, limiter: RateLimiter, group: str) -> None:
        self._limiter = limiter
        self._group = group

    async def retry_after(self, address: str) -> int:
        decision = await self._limiter.peek(self._group, f"ip:{address}")
        return 0 if decision is None or decision.allowed else decision.retry_after_seconds

    async def record_failure(self, address: str) -> None:
        await self._limiter.add(self._group, f"ip:{address}")
