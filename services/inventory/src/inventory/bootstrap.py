"""Wires the inventory service: settings in, running consumers and a FastAPI app out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from redis.asyncio import Redis

from inventory.adapters.catalog_progress import KafkaCatalogProgress
from inventory.adapters.kafka_consumers import (
    assign_from_database,
    booking_consumer,
    catalog_consumer,
)
from inventory.adapters.kafka_topics import ensure_topics
from inventory.adapters.outbox_relay import OutboxRelay
from inventory.adapters.postgres_repository import InventoryQueries, PostgresUnitOfWork
from inventory.adapters.postgres_schema import create_schema
from inventory.adapters.retries import RetryPolicy
from inventory.application.errors import CatalogNotCaughtUp, ConcurrencyConflict
from inventory.application.process_batch import ProcessMessageBatch
from inventory.entrypoints.http.stock import stock_router
from inventory.entrypoints.message_handlers import InventoryBatchHandler
from inventory.entrypoints.partition_batches import PartitionBatchLoop
from inventory.settings import InventorySettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.circuit_breakers import CircuitBreaker, breaker_probe, create_breaker
from service_kit.dependency_probes import kafka_probe, postgres_pool_probe, redis_probe
from service_kit.messaging import create_producer
from ticketing_contracts import topics

logger = logging.getLogger(__name__)


class InventoryRuntime:
    """Everything that runs in one inventory replica besides HTTP; start() then stop()."""

    def __init__(self, settings: InventorySettings) -> None:
        self.settings = settings
        self.booking_topic = settings.topic(topics.BOOKING_EVENTS)
        self.catalog_topic = settings.topic(topics.CATALOG_EVENTS)
        self.outcome_topic = settings.topic(topics.INVENTORY_EVENTS)
        self.dead_letter_topic = settings.topic(topics.DEAD_LETTERS)
        redis_url = str(settings.redis_url) if settings.breaker_state_in_redis else None
        namespace = f"{settings.redis_key_prefix}{settings.service_name}:breaker:"
        self.postgres_breaker = create_breaker(
            "postgres",
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
            # A lost race or a lagging catalog says nothing about PostgreSQL's health.
            exclude=(ConcurrencyConflict, CatalogNotCaughtUp),
            redis_url=redis_url,
            redis_namespace=namespace,
        )
        self.producer_breaker = create_breaker(
            "kafka_producer",
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
            redis_url=redis_url,
            redis_namespace=namespace,
        )
        self.retry = RetryPolicy(
            attempts=settings.retry_attempts,
            initial_seconds=settings.retry_initial_seconds,
            max_seconds=settings.retry_max_seconds,
        )
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.booking_consumer: AIOKafkaConsumer | None = None
        self.catalog_consumer: AIOKafkaConsumer | None = None
        self.booking_loop: PartitionBatchLoop | None = None
        self.catalog_loop: PartitionBatchLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def breakers(self) -> tuple[CircuitBreaker, CircuitBreaker]:
        return (self.postgres_breaker, self.producer_breaker)

    @property
    def queries(self) -> InventoryQueries:
        if self.pool is None:
            raise RuntimeError("inventory runtime is not started")
        return InventoryQueries(self.pool)

    async def start(self) -> None:
        settings = self.settings
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [self.booking_topic, self.catalog_topic, self.outcome_topic, self.dead_letter_topic],
            topics.DEFAULT_PARTITIONS,
        )
        self.pool = await asyncpg.create_pool(
            settings.database_dsn,
            min_size=1,
            max_size=settings.database_pool_size,
            timeout=5,
            command_timeout=10,
        )
        await create_schema(self.pool)
        queries = InventoryQueries(self.pool)
        self.producer = create_producer(settings)
        await self.producer.start()
        self.catalog_consumer = catalog_consumer(settings)
        await self.catalog_consumer.start()
        await assign_from_database(self.catalog_consumer, self.catalog_topic, queries)
        self.booking_consumer = booking_consumer(
            settings,
            self.booking_topic,
            group_id=settings.group_id(settings.consumer_group),
            max_records=settings.batch_max_records,
        )
        await self.booking_consumer.start()

        pool = self.pool
        relay = OutboxRelay(
            pool,
            self.producer,
            postgres_breaker=self.postgres_breaker,
            producer_breaker=self.producer_breaker,
            retry=self.retry,
            batch_size=settings.outbox_batch_size,
            idle_seconds=settings.outbox_idle_seconds,
        )
        catalog_progress = KafkaCatalogProgress(
            self.catalog_consumer,
            self.catalog_topic,
            queries,
            timeout_seconds=settings.catalog_catch_up_seconds,
        )
        process = ProcessMessageBatch(
            lambda: PostgresUnitOfWork(pool),
            catalog_progress,
            outcome_topic=self.outcome_topic,
            producer=settings.service_name,
        )

        def handler(operation: str, consumer: AIOKafkaConsumer | None) -> InventoryBatchHandler:
            return InventoryBatchHandler(
                process,
                postgres_breaker=self.postgres_breaker,
                retry=self.retry,
                dead_letter_topic=self.dead_letter_topic,
                consumer_group=settings.consumer_group,
                operation=operation,
                after_commit=relay.wake,
                consumer=consumer,
            )

        self.catalog_loop = PartitionBatchLoop(
            self.catalog_consumer,
            handler("catalog_batch", None),
            name="catalog consumer",
            breakers=self.breakers,
            on_empty_poll=catalog_progress.observe_empty_poll,
            max_records=settings.batch_max_records,
            poll_timeout_ms=settings.poll_timeout_ms,
        )
        self.booking_loop = PartitionBatchLoop(
            self.booking_consumer,
            handler("booking_batch", self.booking_consumer),
            name="booking consumer",
            breakers=self.breakers,
            max_records=settings.batch_max_records,
            poll_timeout_ms=settings.poll_timeout_ms,
        )
        self._spawn(relay.run(), "outbox relay")
        self._spawn(self.catalog_loop.run(), "catalog consumer")
        self._spawn(self.booking_loop.run(), "booking consumer")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for consumer in (self.booking_consumer, self.catalog_consumer):
            if consumer is not None:
                with contextlib.suppress(Exception):
                    await consumer.stop()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5)
        self.booking_consumer = self.catalog_consumer = None
        self.producer = None
        self.pool = None


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s stopped unexpectedly", task.get_name(), exc_info=task.exception())


def build_app(settings: InventorySettings) -> FastAPI:
    runtime = InventoryRuntime(settings)
    redis = Redis.from_url(str(settings.redis_url))
    health = health_registry_for(settings)

    async def postgres() -> None:
        if runtime.pool is None:
            raise RuntimeError("not connected yet")
        await postgres_pool_probe(runtime.pool)()

    health.add("postgres", postgres)
    health.add("kafka", kafka_probe(settings.kafka_bootstrap_servers))
    health.add("redis", redis_probe(redis), required=settings.breaker_state_in_redis)
    for breaker in runtime.breakers:
        health.add(f"circuit_breaker:{breaker.name}", breaker_probe(breaker))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            await redis.aclose()

    return create_service_app(
        settings,
        title="Inventory service",
        description="Capacity reservation per event and ticket type (internal API).",
        health=health,
        routers=[stock_router(lambda: runtime.queries)],
        lifespan=lifespan,
    )
