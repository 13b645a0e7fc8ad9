"""Circuit breakers (pybreaker) with a Prometheus state gauge and optional Redis-shared state.

Use `with breaker.calling():` around an
awaited call; an open breaker raises `pybreaker.CircuitBreakerError` at once.

pybreaker's `CircuitRedisStorage` speaks to Redis with the *synchronous* redis
client, so a shared breaker costs a small blocking round trip per state read; on a
Redis error it falls back to the closed state, so Redis trouble never stops work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pybreaker
import redis

from service_kit.metrics import CIRCUIT_BREAKER_STATE

logger = logging.getLogger(__name__)
_STATE_VALUES = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}

CircuitBreaker = pybreaker.CircuitBreaker
CircuitBreakerError = pybreaker.CircuitBreakerError


class BreakerStateMetric(pybreaker.CircuitBreakerListener):
    """Keeps `circuit_breaker_state{name}` in line with the breaker and logs changes."""

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        CIRCUIT_BREAKER_STATE.labels(name=cb.name).set(_STATE_VALUES.get(new_state.name, 0))
        log = logger.warning if new_state.name != pybreaker.STATE_CLOSED else logger.info
        log(
            "circuit breaker %s: %s -> %s",
            cb.name,
            old_state.name if old_state is not None else None,
            new_state.name,
            extra={"breaker": cb.name, "breaker_state": new_state.name},
        )


def create_breaker(
    name: str,
    *,
    fail_max: int,
    reset_timeout_seconds: float,
    exclude: Iterable[type[BaseException]] = (),
    redis_url: str | None = None,
    redis_namespace: str = "",
) -> pybreaker.CircuitBreaker:
    """A breaker named `name`; with `redis_url` its state is shared by every replica."""
    storage: pybreaker.CircuitBreakerStorage | None = None
    if redis_url is not None:
        client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        storage = pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED, client, namespace=f"{redis_namespace}{name}"
        )
    excluded: list[Any] = [asyncio.CancelledError, *exclude]
    breaker = pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout_seconds,
        # A cancelled task says nothing about the dependency's health.
        exclude=excluded,
        listeners=[BreakerStateMetric()],
        state_storage=storage,
        name=name,
    )
    CIRCUIT_BREAKER_STATE.labels(name=name).set(_STATE_VALUES.get(breaker.current_state, 0))
    return breaker


def is_open(breaker: pybreaker.CircuitBreaker) -> bool:
    return breaker.current_state == pybreaker.STATE_OPEN


def seconds_until_trial(breaker: pybreaker.CircuitBreaker) -> float:
    """How long an open breaker still refuses calls; 0 when a trial call may go through."""
    if not is_open(breaker):
        return 0.0
    opened_at: datetime | None = breaker._state_storage.opened_at
    if opened_at is None:
        return 0.0
    remaining = opened_at + timedelta(seconds=breaker.reset_timeout) - datetime.now(UTC)
    return max(0.0, remaining.total_seconds())


def breaker_probe(breaker: pybreaker.CircuitBreaker) -> Any:
    """A readiness probe that fails while the breaker is open."""

    async def probe() -> None:
        if is_open(breaker):
            raise RuntimeError(
                f"circuit breaker {breaker.name} is open "
                f"(next trial in {seconds_until_trial(breaker):.1f}s)"
            )

    return probe
