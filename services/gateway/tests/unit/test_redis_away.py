"""What the gateway does while Redis is away (docs/architecture.md, "Redis away"): logouts and
the revocation check use PostgreSQL and a copy in the process, limits and login backoff
count in the process, with a Redis client that fails."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import pytest
from limits import parse

from gateway.adapters.login_throttle import (
    Backoff,
    InMemoryLoginThrottle,
    LoginThrottleWithFallback,
    RedisLoginThrottle,
)
from gateway.adapters.rate_limits import (
    InMemoryWindowCounters,
    RateLimitDecision,
    RateLimiter,
    WindowCheck,
    WindowCountersWithFallback,
)
from gateway.adapters.revoked_tokens import InMemoryRevokedTokenStore
from gateway.application.revocations import RevocationList
from service_kit.errors import DependencyUnavailableError


class SwitchableCounters(InMemoryWindowCounters):
    """Redis's shared counts; `away` makes every call fail as a client facing no server does."""

    def __init__(self) -> None:
        super().__init__()
        self.away = False

    def _ask(self) -> None:
        if self.away:
            raise ConnectionError("Redis is away")

    async def hit(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        self._ask()
        return await super().hit(checks)

    async def peek(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        self._ask()
        return await super().peek(checks)

    async def add(self, checks: Sequence[WindowCheck]) -> None:
        self._ask()
        await super().add(checks)


class FailingRedis:
    """A Redis client whose every command fails: enough for the adapters' constructors."""

    def register_script(self, _: str) -> object:
        async def script(**_: object) -> object:
            raise ConnectionError("Redis is away")

        return script

    async def delete(self, *_: str) -> int:
        raise ConnectionError("Redis is away")


async def test_while_redis_is_away_each_process_allows_its_share_of_a_limit() -> None:
    shared = SwitchableCounters()
    limiter = RateLimiter(
        WindowCountersWithFallback(shared, share=0.5), {"booking": parse("10/minute")}
    )
    shared.away = True

    decisions = [await limiter.hit(["booking"], "user:zoe") for _ in range(6)]

    assert [d.allowed for d in decisions if d is not None] == [True] * 5 + [False]
    assert decisions[-1] is not None
    assert decisions[-1].limit == 5
    assert decisions[-1].retry_after_seconds >= 1


async def test_the_shared_count_applies_again_once_redis_answers() -> None:
    shared = SwitchableCounters()
    counters = WindowCountersWithFallback(shared, share=0.5)
    limiter = RateLimiter(counters, {"booking": parse("3/minute")})
    shared.away = True
    assert (await limiter.hit(["booking"], "user:zoe")) is not None
    assert counters.shared_away

    shared.away = False
    allowed = [await limiter.hit(["booking"], "user:zoe") for _ in range(4)]

    assert [d.allowed for d in allowed if d is not None] == [True, True, True, False]
    assert not counters.shared_away


async def test_failed_logins_per_address_are_counted_in_the_process_while_redis_is_away() -> None:
    shared = SwitchableCounters()
    shared.away = True
    limiter = RateLimiter(
        WindowCountersWithFallback(shared, share=0.5), {"login-failures": parse("4/hour")}
    )

    for _ in range(2):
        await limiter.add("login-failures", "ip:10.0.0.1")

    blocked = await limiter.peek("login-failures", "ip:10.0.0.1")
    neighbour = await limiter.peek("login-failures", "ip:10.0.0.2")
    assert blocked is not None
    assert not blocked.allowed
    assert neighbour is not None
    assert neighbour.allowed


async def test_an_account_backs_off_in_the_process_while_redis_is_away() -> None:
    backoff = Backoff(free_failures=2, initial_seconds=2, max_seconds=60)
    throttle = LoginThrottleWithFallback(
        RedisLoginThrottle(FailingRedis(), "t:", backoff),  # type: ignore[arg-type]
        InMemoryLoginThrottle(backoff),
    )

    delays = [await throttle.record_failure("zoe@example.com") for _ in range(3)]

    assert delays == [0, 2, 4]
    assert 3 <= await throttle.retry_after("zoe@example.com") <= 4
    assert await throttle.retry_after("max@example.com") == 0
    await throttle.reset("zoe@example.com")
    assert await throttle.retry_after("zoe@example.com") == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def revocations(store: InMemoryRevokedTokenStore, clock: Clock) -> RevocationList:
    return RevocationList(
        store, leeway_seconds=10, refresh_seconds=1, max_stale_seconds=30, clock=clock
    )


async def test_a_logout_on_one_replica_reaches_the_others_at_their_next_refresh() -> None:
    store, clock = InMemoryRevokedTokenStore(), Clock()
    here, there = revocations(store, clock), revocations(store, clock)
    await here.refresh()
    await there.refresh()
    token_id = uuid.uuid4().hex

    await here.revoke(token_id, int(time.time()) + 600)

    assert await here.is_revoked(token_id)
    assert not await there.is_revoked(token_id)
    await there.refresh()
    assert await there.is_revoked(token_id)
    assert not await there.is_revoked(uuid.uuid4().hex)


async def test_a_restarted_gateway_still_refuses_a_logged_out_token() -> None:
    store, clock = InMemoryRevokedTokenStore(), Clock()
    before = revocations(store, clock)
    await before.refresh()
    token_id = uuid.uuid4().hex
    await before.revoke(token_id, int(time.time()) + 600)

    after = revocations(store, clock)
    await after.refresh()

    assert await after.is_revoked(token_id)


async def test_while_the_store_is_away_checks_use_the_copy_until_it_is_too_old() -> None:
    store, clock = InMemoryRevokedTokenStore(), Clock()
    replica = revocations(store, clock)
    await replica.refresh()
    token_id = uuid.uuid4().hex
    await replica.revoke(token_id, int(time.time()) + 600)
    store.unavailable = True

    with pytest.raises(DependencyUnavailableError, match="Logging out is unavailable"):
        await replica.revoke(uuid.uuid4().hex, int(time.time()) + 600)
    with pytest.raises(ConnectionError):
        await replica.refresh()
    clock.now += 30
    assert await replica.is_revoked(token_id)
    assert not await replica.is_revoked(uuid.uuid4().hex)

    clock.now += 1
    with pytest.raises(DependencyUnavailableError, match="Signing in is unavailable"):
        await replica.is_revoked(token_id)

    store.unavailable = False
    await replica.refresh()
    assert await replica.is_revoked(token_id)


async def test_a_gateway_that_never_read_the_list_fails_closed() -> None:
    replica = revocations(InMemoryRevokedTokenStore(), Clock())

    with pytest.raises(DependencyUnavailableError):
        await replica.is_revoked(uuid.uuid4().hex)


async def test_an_expired_token_is_forgotten_by_the_process_and_the_store() -> None:
    store, clock = InMemoryRevokedTokenStore(), Clock()
    replica = revocations(store, clock)
    await replica.refresh()
    token_id = uuid.uuid4().hex
    await replica.revoke(token_id, int(time.time()) - 11)  # past its expiry and the leeway

    await replica.refresh()

    assert not await replica.is_revoked(token_id)
    assert token_id not in store.revoked
