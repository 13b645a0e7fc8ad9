import asyncio

import pytest
from prometheus_client import REGISTRY

from service_kit.circuit_breakers import (
    CircuitBreaker,
    CircuitBreakerError,
    breaker_probe,
    seconds_until_trial,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, name: str = "demo", fail_max: int = 2) -> CircuitBreaker:
    return CircuitBreaker(name, fail_max=fail_max, reset_timeout_seconds=10, clock=clock)


def fail(target: CircuitBreaker) -> None:
    with pytest.raises((ConnectionError, CircuitBreakerError)), target.calling():
        raise ConnectionError("down")


def metric(name: str) -> float | None:
    return REGISTRY.get_sample_value("circuit_breaker_state", {"name": name})


def test_opens_after_fail_max_failures_and_then_fails_fast() -> None:
    clock = Clock()
    target = breaker(clock, "opens")
    fail(target)
    assert target.current_state == "closed"
    fail(target)
    assert target.current_state == "open"
    assert metric("opens") == 2
    assert seconds_until_trial(target) == 10
    ran = False
    with pytest.raises(CircuitBreakerError), target.calling():
        ran = True
    assert not ran


def test_a_success_resets_the_failure_count() -> None:
    target = breaker(Clock())
    fail(target)
    with target.calling():
        pass
    fail(target)
    assert target.current_state == "closed"


def test_one_trial_at_a_time_after_the_reset_timeout_and_its_success_closes() -> None:
    clock = Clock()
    target = breaker(clock, "trial")
    fail(target)
    fail(target)
    clock.now += 10
    assert target.current_state == "half-open"
    with target.calling():
        assert metric("trial") == 1
        with pytest.raises(CircuitBreakerError), target.calling():
            pass
    assert target.current_state == "closed"
    assert metric("trial") == 0


def test_a_failed_trial_opens_again_for_a_full_timeout() -> None:
    clock = Clock()
    target = breaker(clock)
    fail(target)
    fail(target)
    clock.now += 10
    fail(target)
    assert target.current_state == "open"
    assert seconds_until_trial(target) == 10


def test_a_cancelled_call_is_not_a_failure() -> None:
    target = breaker(Clock(), fail_max=1)
    with pytest.raises(asyncio.CancelledError), target.calling():
        raise asyncio.CancelledError
    assert target.current_state == "closed"


async def test_the_readiness_probe_fails_while_open() -> None:
    target = breaker(Clock())
    probe = breaker_probe(target)
    await probe()
    fail(target)
    fail(target)
    with pytest.raises(RuntimeError, match="circuit breaker demo is open"):
        await probe()
