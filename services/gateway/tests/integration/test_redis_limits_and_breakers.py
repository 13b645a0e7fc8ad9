"""Rate limits, breaker state and read positions shared through a real Redis."""

import asyncio
import uuid

import pytest
from limits import parse
from redis.asyncio import Redis

from gateway.adapters.rate_limits import RateLimiter, redis_rate_limit_storage
from gateway.adapters.read_positions import RedisReadPositions
from gateway.settings import GatewaySettings
from service_kit.circuit_breakers import (
    CircuitBreaker,
    CircuitBreakerError,
    create_breaker,
    seconds_until_trial,
)

pytestmark = pytest.mark.integration

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"


def settings(infrastructure, redis_key_prefix: str) -> GatewaySettings:
    return GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_secret=SECRET,
        redis_url=infrastructure.redis_url,
        redis_key_prefix=redis_key_prefix,
    )


async def test_a_limit_is_reached_then_resets(infrastructure, redis_key_prefix) -> None:
    storage = redis_rate_limit_storage(settings(infrastructure, redis_key_prefix))
    limiter = RateLimiter(storage, {"login": parse("3/second")})
    identity = f"ip:{uuid.uuid4().hex}"
    decisions = [await limiter.hit("login", identity) for _ in range(4)]
    assert [decision.allowed for decision in decisions if decision] == [True, True, True, False]
    assert decisions[-1] is not None
    assert decisions[-1].remaining == 0
    assert decisions[-1].retry_after_seconds >= 1
    await asyncio.sleep(1.1)
    again = await limiter.hit("login", identity)
    assert again is not None
    assert again.allowed


async def test_replicas_share_one_count(infrastructure, redis_key_prefix) -> None:
    config = settings(infrastructure, redis_key_prefix)
    rules = {"booking": parse("2/minute")}
    replica_a = RateLimiter(redis_rate_limit_storage(config), rules)
    replica_b = RateLimiter(redis_rate_limit_storage(config), rules)
    identity = f"user:{uuid.uuid4().hex}"
    assert (await replica_a.hit("booking", identity)).allowed  # type: ignore[union-attr]
    assert (await replica_b.hit("booking", identity)).allowed  # type: ignore[union-attr]
    assert not (await replica_a.hit("booking", identity)).allowed  # type: ignore[union-attr]
    other = await replica_b.hit("booking", f"user:{uuid.uuid4().hex}")
    assert other is not None
    assert other.allowed


async def test_an_unreachable_store_lets_requests_through(infrastructure) -> None:
    config = GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_secret=SECRET,
        redis_url="redis://127.0.0.1:1/0",
    )
    limiter = RateLimiter(redis_rate_limit_storage(config), {"default": parse("1/minute")})
    assert await limiter.hit("default", "ip:1") is None


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
