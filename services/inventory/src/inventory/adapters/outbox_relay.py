"""Publishes outbox rows to Kafka in insertion order, then marks them published.

One relay at a time holds a transaction-scoped advisory lock, so rows leave in `id`
order even with several replicas. A crash between send and mark re-sends rows; their
envelope ids are deterministic, so consumers deduplicate them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from service_kit.circuit_breakers import CircuitBreaker
from service_kit.kafka.messages import OutboundMessage
from service_kit.metrics import OUTBOX_PENDING_EVENTS, RETRIES

logger = logging.getLogger(__name__)

_RELAY_LOCK = 0x1F0E_0B0C

Publish = Callable[[Sequence[OutboundMessage]], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publish: Publish,
        *,
        postgres_breaker: CircuitBreaker,
        producer_breaker: CircuitBreaker,
        batch_size: int = 500,
        idle_seconds: float = 0.05,
        retry_initial_seconds: float = 0.05,
        retry_max_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self._publish = publish
        self._postgres_breaker = postgres_breaker
        self._producer_breaker = producer_breaker
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._retry_initial_seconds = retry_initial_seconds
        self._retry_max_seconds = retry_max_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Publishes until cancelled; a failure (breaker open included) backs off and retries."""
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(
                multiplier=self._retry_initial_seconds,
                max=self._retry_max_seconds,
                jitter=self._retry_initial_seconds,
            ),
            retry=retry_if_exception_type(Exception),
            before_sleep=_log_retry,
        )
        while True:
            published: int = await retrying(self.publish_pending)
            if published < self._batch_size:
                # Not wait_for: on Python 3.11 it can swallow a cancellation that arrives
                # as the wake-up completes, and stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds):
                        await self._wake.wait()
                self._wake.clear()

    async def publish_pending(self) -> int:
        """Publishes one batch of unpublished rows; returns how many."""
        with self._postgres_breaker.calling():
            async with self._pool.acquire() as connection, connection.transaction():
                if not await connection.fetchval(
                    "SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK
                ):
                    return 0
                rows = await connection.fetch(
                    "SELECT id, topic, key, value, header_names, header_values FROM outbox "
                    # FOR UPDATE: a broker recovery marking the outbox for republishing waits
                    # for this round, so it cannot be overwritten as published to the old broker.
                    "WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE",
                    self._batch_size,
                )
                if rows:
                    with self._producer_breaker.calling():
                        await self._publish([_outbound(row) for row in rows])
                    await connection.execute(
                        "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                        [row["id"] for row in rows],
                    )
                pending = await connection.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
        OUTBOX_PENDING_EVENTS.set(max(0, int(pending) - len(rows)))
        return len(rows)


def _outbound(row: asyncpg.Record) -> OutboundMessage:
    headers = list(zip(row["header_names"], row["header_values"], strict=True))
    return OutboundMessage(row["topic"], row["key"], row["value"], headers)


def _log_retry(state: RetryCallState) -> None:
    RETRIES.labels(operation="outbox_publish").inc()
    error = state.outcome.exception() if state.outcome is not None else None
    logger.warning(
        "outbox relay failed (attempt %d), will try again: %r", state.attempt_number, error
    )
