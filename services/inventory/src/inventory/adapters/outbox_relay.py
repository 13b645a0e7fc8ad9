"""Publishes outbox rows to Kafka in insertion order, then marks them published.

One relay at a time holds a transaction-scoped advisory lock, so rows leave in `id`
order even with several replicas. A crash between send and mark re-sends rows; their
envelope ids are deterministic, so consumers deduplicate them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from aiokafka import AIOKafkaProducer

from inventory.adapters.retries import RetryPolicy, is_transient
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError
from service_kit.metrics import OUTBOX_PENDING_EVENTS

logger = logging.getLogger(__name__)

_RELAY_LOCK = 0x1F0E_0B0C


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        postgres_breaker: CircuitBreaker,
        producer_breaker: CircuitBreaker,
        retry: RetryPolicy,
        batch_size: int = 500,
        idle_seconds: float = 0.05,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._postgres_breaker = postgres_breaker
        self._producer_breaker = producer_breaker
        self._retry = retry
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                published = await self._retry.run("outbox_publish", self.publish_pending)
            except asyncio.CancelledError:
                raise
            except CircuitBreakerError as error:
                logger.warning("outbox relay paused: %s", error)
                await asyncio.sleep(1.0)
                continue
            except Exception as error:
                log = logger.warning if is_transient(error) else logger.exception
                log("outbox relay failed, will try again: %r", error)
                await asyncio.sleep(1.0)
                continue
            if published < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_seconds)
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
                    "WHERE published_at IS NULL ORDER BY id LIMIT $1",
                    self._batch_size,
                )
                if rows:
                    with self._producer_breaker.calling():
                        await self._send_in_order(rows)
                    await connection.execute(
                        "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                        [row["id"] for row in rows],
                    )
                pending = await connection.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
        OUTBOX_PENDING_EVENTS.set(max(0, int(pending) - len(rows)))
        return len(rows)

    async def _send_in_order(self, rows: list[asyncpg.Record]) -> None:
        deliveries = []
        for row in rows:
            headers = list(zip(row["header_names"], row["header_values"], strict=True))
            deliveries.append(
                await self._producer.send(
                    row["topic"], row["value"], key=row["key"], headers=headers
                )
            )
        await asyncio.gather(*deliveries)
