"""Rate limits, breaker state and read positions shared through a real Redis."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from limits import parse
from redis.asyncio import Redis

from gateway.adapters.rate_limits import RateLimitedFailures, RateLimiter, RedisWindowCounters
from gateway.adapters.read_positions import RedisReadPositions
from service_kit.circuit_breakers import (
    CircuitBreaker,
    CircuitBreakerError,
    create_breaker,
    seconds_until_trial,
)

pytestmark = pytest.mark.integration


class CountingRedis(Redis):
    commands = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands += 1
        return await super().execute_command(*args, **options)


@pytest.fixture
async def redis(infrastructure) -> AsyncIterator[Redis]:
    client = Redis.from_url(infrastructure.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def other_redis(infrastructure) -> AsyncIterator[Redis]:
    client = Redis.from_url(infrastructure.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def counting_redis(infrastructure) -> AsyncIterator[CountingRedis]:
    client = CountingRedis.from_url(infrastructure.redis_url)
    yield client
    await client.aclose()


def limiter(redis: Redis, prefix: str, rules: dict[str, str]) -> RateLimiter:
    parsed = {group: parse(rule) for group, rule in rules.items()}
    return RateLimiter(RedisWindowCounters(redis, prefix), parsed)


async def test_a_limit_is_reached_then_frees_up_at_the_announced_time(
    redis, redis_key_prefix
) -> None:
    limits = limiter(redis, redis_key_prefix, {"login": "3/second"})
    identity = f"ip:{uuid.uuid4().hex}"
    decisions = [await limits.hit(["login"], identity) for _ in range(4)]
    assert [decision.allowed for decision in decisions if decision] == [True, True, True, False]
    refused = decisions[-1]
    assert refused is not None
    assert refused.remaining == 0
    assert refused.retry_after_seconds >= 1
    assert (await limits.hit(["login"], identity)).allowed is False  # type: ignore[union-attr]
    await asyncio.sleep(max(0.0, refused.reset_at - time.time()) + 0.01)
    again = await limits.hit(["login"], identity)
    assert again is not None
    assert again.allowed


async def test_replicas_share_one_count(redis, other_redis, redis_key_prefix) -> None:
    rules = {"booking": "2/minute"}
    replica_a = limiter(redis, redis_key_prefix, rules)
    replica_b = limiter(other_redis, redis_key_prefix, rules)
    identity = f"user:{uuid.uuid4().hex}"
    assert (await replica_a.hit(["booking"], identity)).allowed  # type: ignore[union-attr]
    assert (await replica_b.hit(["booking"], identity)).allowed  # type: ignore[union-attr]
    assert not (await replica_a.hit(["booking"], identity)).allowed  # type: ignore[union-attr]
    other = await replica_b.hit(["booking"], f"user:{uuid.uuid4().hex}")
    assert other is not None
    assert other.allowed


async def test_several_groups_are_decided_in_one_round_trip(
    counting_redis, redis_key_prefix
) -> None:
    limits = limiter(
        counting_redis, redis_key_prefix, {"default": "5/minute", "booking": "2/minute"}
    )
    identity = f"user:{uuid.uuid4().hex}"
    await limits.hit(["default"], f"user:{uuid.uuid4().hex}")  # loads the script
    counting_redis.commands = 0
    first = await limits.hit(["default", "booking"], identity)
    assert counting_redis.commands == 1
    assert first is not None
    assert (first.limit, first.remaining) == (2, 1)
    second = await limits.hit(["default", "booking"], identity)
    refused = await limits.hit(["default", "booking"], identity)
    assert second is not None
    assert refused is not None
    assert second.allowed
    assert not refused.allowed
    assert refused.limit == 2
    # The refused request used none of the default group's allowance.
    default_only = await limits.hit(["default"], identity)
    assert default_only is not None
    assert default_only.remaining == 2


async def test_only_failures_count_and_every_replica_sees_them(
    redis, other_redis, redis_key_prefix
) -> None:
    rules = {"failures": "3/minute"}
    replica_a = RateLimitedFailures(limiter(redis, redis_key_prefix, rules), "failures")
    replica_b = RateLimitedFailures(limiter(other_redis, redis_key_prefix, rules), "failures")
    address, neighbour = uuid.uuid4().hex, uuid.uuid4().hex

    looks = [await replica_a.retry_after(address) for _ in range(10)]  # looking counts nothing
    await replica_a.record_failure(address)
    await replica_b.record_failure(address)
    before_the_limit = await replica_b.retry_after(address)
    await replica_a.record_failure(address)

    assert looks == [0] * 10
    assert before_the_limit == 0
    assert 1 <= await replica_b.retry_after(address) <= 120
    assert await replica_a.retry_after(neighbour) == 0


async def test_an_unreachable_store_lets_requests_through(redis_key_prefix) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0")
    try:
        limits = limiter(unreachable, redis_key_prefix, {"default": "1/minute"})
        assert await limits.hit(["default"], "ip:1") is None
        failures = RateLimitedFailures(limits, "default")
        await failures.record_failure("1")
        assert await failures.retry_after("1") == 0
    finally:
        await unreachable.aclose()


async def wait_for_state(breaker: CircuitBreaker, state: str) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while breaker.current_state != state:
        assert asyncio.get_running_loop().time() < deadline, f"{breaker.name} never became {state}"
        await asyncio.sleep(0.02)


async def test_breaker_state_is_shared_by_replicas(infrastructure, redis_key_prefix) -> None:
    prefix = f"{redis_key_prefix}{uuid.uuid4().hex[:6]}:"
    name = "query-projection"
    replica_a, replica_b = (
        create_breaker(
            name,
            fail_max=2,
            reset_timeout_seconds=60,
            redis_url=infrastructure.redis_url,
            redis_namespace=prefix,
            refresh_seconds=0.05,
        )
        for _ in range(2)
    )
    try:
        assert replica_b.current_state == "closed"
        for _ in range(2):
            with pytest.raises((ConnectionError, CircuitBreakerError)), replica_a.calling():
                raise ConnectionError("down")
        await wait_for_state(replica_b, "open")
        with pytest.raises(CircuitBreakerError), replica_b.calling():
            pass
        assert 59 < seconds_until_trial(replica_b) <= 60
        replica_b.close()
        await wait_for_state(replica_a, "closed")
    finally:
        await replica_a.aclose()
        await replica_b.aclose()


async def test_a_breaker_keeps_working_when_redis_is_unreachable(infrastructure) -> None:
    breaker = create_breaker(
        "unreachable",
        fail_max=1,
        reset_timeout_seconds=60,
        redis_url="redis://127.0.0.1:1/0",
        refresh_seconds=0.05,
    )
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionError), breaker.calling():
            raise ConnectionError("down")
        assert breaker.current_state == "open"
        assert asyncio.get_running_loop().time() - started < 0.05
    finally:
        await breaker.aclose()


async def test_read_positions_keep_the_highest(infrastructure, redis_key_prefix) -> None:
    redis = Redis.from_url(infrastructure.redis_url)
    try:
        positions = RedisReadPositions(redis, redis_key_prefix, ttl_seconds=30)
        caller = uuid.uuid4().hex
        assert await positions.latest(caller) == 0
        await positions.remember(caller, 7)
        await positions.remember(caller, 3)
        assert await positions.latest(caller) == 7
        ttl = await redis.ttl(f"{redis_key_prefix}gateway:read-position:{caller}")
        assert 0 < ttl <= 30
    finally:
        await redis.aclose()


async def test_read_positions_of_a_batch_are_stored_in_one_round_trip(
    counting_redis, redis_key_prefix
) -> None:
    positions = RedisReadPositions(counting_redis, redis_key_prefix, ttl_seconds=30)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    await positions.remember(first, 9)
    counting_redis.commands = 0
    await positions.remember_many({first: 4, second: 5})
    assert counting_redis.commands == 1
    assert await positions.latest(first) == 9
    assert await positions.latest(second) == 5
    assert (await positions.marks(second)).issued >= 9
