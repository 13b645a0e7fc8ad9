"""Transient failures: back off and try the same thing again, keeping the position.

A transient failure says "not now" rather than "never" (the database or the broker is
unavailable, a circuit breaker is open): the runtime waits it out with tenacity's
exponential backoff and jitter, however long it takes, and never dead-letters for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import pybreaker
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from service_kit.metrics import KAFKA_CONSUMER_FAILURES, RETRIES
from service_kit.settings import KafkaSettings

logger = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")

_TRANSIENT_POSTGRES = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def is_transient(error: BaseException) -> bool:
    """Failures that say "not now" rather than "never": retry them, keep the position."""
    if isinstance(error, pybreaker.CircuitBreakerError | KafkaError):
        return True
    return isinstance(error, (*_TRANSIENT_POSTGRES, ConnectionError, OSError, TimeoutError))


class Backoff:
    """Runs an operation of one subscriber again while it fails transiently, waiting
    `consumer_retry_initial_seconds` doubling up to `consumer_retry_max_seconds` between
    attempts; any other failure is raised at once."""

    def __init__(
        self,
        settings: KafkaSettings,
        is_transient: Callable[[BaseException], bool],
        *,
        subscriber: str,
    ) -> None:
        self._settings = settings
        self._is_transient = is_transient
        self._subscriber = subscriber

    async def call(self, operation: str, call: Callable[[], Awaitable[ResultT]]) -> ResultT:
        def before_sleep(state: RetryCallState) -> None:
            RETRIES.labels(operation=operation).inc()
            KAFKA_CONSUMER_FAILURES.labels(subscriber=self._subscriber, kind="transient").inc()
            error = state.outcome.exception() if state.outcome is not None else None
            logger.warning(
                "%s: transient failure (attempt %d), backing off: %r",
                operation,
                state.attempt_number,
                error,
            )

        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(
                multiplier=self._settings.consumer_retry_initial_seconds,
                max=self._settings.consumer_retry_max_seconds,
                jitter=self._settings.consumer_retry_initial_seconds,
            ),
            retry=retry_if_exception(self._is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity reraises the last failure")
