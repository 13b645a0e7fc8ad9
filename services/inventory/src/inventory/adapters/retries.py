"""Bounded retries with exponential backoff and jitter for transient failures (tenacity)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import pybreaker
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from inventory.application.errors import CatalogNotCaughtUp, ConcurrencyConflict
from service_kit.metrics import RETRIES

logger = logging.getLogger(__name__)


T = TypeVar("T")

_TRANSIENT_POSTGRES = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def is_transient(error: BaseException) -> bool:
    """Connection lost, serialization or concurrency conflict, broker unavailable."""
    if isinstance(error, pybreaker.CircuitBreakerError):
        return False  # the breaker says stop; the consumer pauses instead
    if isinstance(error, KafkaError):
        return isinstance(error, KafkaConnectionError | KafkaTimeoutError) or bool(
            getattr(error, "retriable", False)
        )
    return isinstance(
        error,
        (
            *_TRANSIENT_POSTGRES,
            ConcurrencyConflict,
            CatalogNotCaughtUp,
            ConnectionError,
            OSError,
            TimeoutError,
        ),
    )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_seconds: float = 0.05
    max_seconds: float = 2.0

    async def run(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        def before_sleep(state: RetryCallState) -> None:
            RETRIES.labels(operation=operation).inc()
            error = state.outcome.exception() if state.outcome is not None else None
            logger.warning(
                "%s failed (attempt %d of %d), retrying: %r",
                operation,
                state.attempt_number,
                self.attempts,
                error,
                extra={"operation": operation, "attempt": state.attempt_number},
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.initial_seconds, max=self.max_seconds, jitter=self.initial_seconds
            ),
            retry=retry_if_exception(is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity reraises the last failure")
