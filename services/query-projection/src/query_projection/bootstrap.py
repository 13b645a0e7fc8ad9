"""Wires the query-projection service: the only place that builds adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from query_projection.adapters.broker_epoch import BROKER_EPOCH_TABLE, read_again_from_the_start
from query_projection.adapters.kafka import KafkaEndOffsets
from query_projection.adapters.postgres_hot_rows import PostgresHotRows
from query_projection.adapters.postgres_progress import PostgresProgressListener
from query_projection.adapters.postgres_reconciliation import PostgresReconciliation
from query_projection.adapters.postgres_schema import ensure_read_models
from query_projection.adapters.postgres_store import PostgresGenerations, PostgresReadModelStore
from query_projection.adapters.postgres_views import PostgresViews
from query_projection.adapters.redis_read_models import RedisReadModels
from query_projection.application.apply_batch import ApplyBatch
from query_projection.application.hot_refill import HotRefill
from query_projection.application.messages import DecodedEvent, decode_projected
from query_projection.application.queries import ReadModelQueries
from query_projection.application.rebuild import RebuildReadModels, RebuildReport
from query_projection.application.reconciliation import Reconciliation, load_set_aside
from query_projection.application.waiting import PositionWaiter, ProgressSignal
from query_projection.domain.set_aside import SetAsideFacts
from query_projection.entrypoints.http import reconciliation
from query_projection.entrypoints.http.router import OPENAPI_TAGS, router
from query_projection.entrypoints.subscribers import subscribe_projection
from query_projection.settings import QueryProjectionSettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.background import WokenRounds
from service_kit.broker_epoch import recover_from_broker_change
from service_kit.dead_letter_routes import dead_letter_router
from service_kit.dependency_probes import kafka_probe, postgres_pool_probe, redis_probe
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka.subscription import Subscription
from service_kit.kafka_topics import ensure_topics
from service_kit.postgres_broker_epoch import PostgresBrokerEpoch
from service_kit.redis_pool import redis_client
from service_kit.topic_replay import TopicReplay


class QueryProjection:
    """Every long-lived object of the service, started and stopped together."""

    def __init__(self, settings: QueryProjectionSettings) -> None:
        self.settings = settings
        self.runtime = KafkaRuntime(settings)
        self.redis = redis_client(str(settings.redis_url))
        self.hot = RedisReadModels(
            self.redis,
            settings.redis_key_prefix,
            cache_ttl_seconds=settings.event_cache_ttl_seconds,
            breaker=self.redis.breaker,
        )
        self.hot_refill: WokenRounds | None = None
        self.signal = ProgressSignal()
        self._pool: asyncpg.Pool | None = None
        self._end_offsets: KafkaEndOffsets | None = None
        self._progress = PostgresProgressListener(settings.database_dsn, self.signal.notify)
        self.queries: ReadModelQueries | None = None
        # Facts the event store no longer holds (after its restore): never applied.
        self.set_aside = SetAsideFacts()
        self.reconciliation: Reconciliation | None = None
        self.subscription: Subscription[DecodedEvent] = subscribe_projection(
            self.runtime, settings, self._read_models, self.signal
        )

    def _read_models(self) -> tuple[ApplyBatch, PostgresReadModelStore]:
        return self.apply_batch, self.store

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    async def _open(self) -> None:
        settings = self.settings
        self._pool = await asyncpg.create_pool(
            settings.database_dsn, min_size=1, max_size=settings.database_pool_size
        )
        await ensure_read_models(self.pool)
        await ensure_topics(
            settings,
            (*settings.projected_topics, settings.dead_letter_topic),
            partitions=settings.topic_partitions,
        )
        self.store = PostgresReadModelStore(self.pool)
        reconciliation = PostgresReconciliation(self.pool)
        await load_set_aside(reconciliation, self.set_aside)
        self.reconciliation = Reconciliation(reconciliation, self.set_aside)
        self.apply_batch = ApplyBatch(self.store, self.hot, self.set_aside)

    async def start(self) -> None:
        settings = self.settings
        await self._open()
        end_offsets = self._end_offsets = KafkaEndOffsets(settings)
        await end_offsets.start()
        await self._progress.start()
        waiter = PositionWaiter(self.store, end_offsets, settings.position_topics, self.signal)
        stored_hot = PostgresHotRows(self.pool)
        self.queries = ReadModelQueries(
            self.store,
            PostgresViews(self.pool),
            self.hot,
            waiter,
            end_offsets,
            settings.projected_topics,
            stored_hot,
        )
        self.hot_refill = WokenRounds(
            "redis read models refill",
            HotRefill(self.store, stored_hot, self.hot),
            idle_seconds=settings.redis_check_seconds,
        )
        self.hot_refill.task.start()
        if settings.run_consumer:
            epoch = PostgresBrokerEpoch(
                self.pool, on_adopt=read_again_from_the_start, table=BROKER_EPOCH_TABLE
            )
            await recover_from_broker_change(settings, epoch)
            await self.runtime.start()
            self.runtime.watch_broker(epoch)

    async def stop(self) -> None:
        if self.runtime.started:
            await self.runtime.stop()
        await self._close()

    async def _close(self) -> None:
        if self.hot_refill is not None:
            await self.hot_refill.task.stop()
        await self._progress.stop()
        if self._end_offsets is not None:
            await self._end_offsets.stop()
        if self._pool is not None:
            await self._pool.close()
        await self.redis.aclose()

    async def caught_up(self) -> None:
        """Readiness: the subscriber is running and not behind for longer than the bound."""
        if not self.settings.run_consumer:
            return
        subscription = self.subscription
        await self.runtime.probe()
        # Until the group hands out partitions nothing is applied, so a read that waits
        # for a position could only time out; the pod takes no traffic until then.
        if not subscription.ever_assigned:
            raise RuntimeError("waiting for the consumer group to assign partitions")
        lag = subscription.lag_seconds()
        if lag > self.settings.readiness_max_lag_seconds:
            raise RuntimeError(
                f"behind for {lag:.1f}s (bound {self.settings.readiness_max_lag_seconds:g}s)"
            )

    async def rebuild(self, *, switch: bool = True) -> RebuildReport:
        """The operator command: open what a rebuild needs, run it, close again."""
        settings = self.settings
        try:
            await self._open()
            rebuild = RebuildReadModels(
                PostgresGenerations(self.pool),
                self.hot,
                self.apply_batch,
                lambda: TopicReplay(
                    settings,
                    settings.projected_topics,
                    decode=decode_projected,
                    max_batch=settings.consumer_max_batch,
                    poll_timeout_ms=200,
                ),
            )
            return await rebuild(switch=switch)
        finally:
            await self._close()


def build_app(settings: QueryProjectionSettings) -> FastAPI:
    service = QueryProjection(settings)
    health = health_registry_for(settings)

    async def postgres() -> None:
        await postgres_pool_probe(service.pool)()

    health.add("postgres", postgres)
    # Reads and writes do without Redis (adapters/redis_read_models.py): shown, not required.
    health.add("redis", redis_probe(service.redis), required=False)
    broker_probe = kafka_probe(settings)

    async def kafka() -> None:
        # A replica that only serves queries has no running runtime to ask.
        if service.runtime.started:
            await service.runtime.broker_probe()
        else:
            await broker_probe()

    health.add("kafka", kafka)
    health.add("caught_up", service.caught_up)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        app.state.queries = service.queries
        app.state.reconciliation = service.reconciliation
        try:
            yield
        finally:
            await service.stop()

    app = create_service_app(
        settings,
        title="Query projection service",
        description=(
            "Read models in Redis and PostgreSQL and the internal query API for the gateway. "
            "Queries accept `min_position` (and `min_version` on single resources) to read "
            "their own writes; single resources carry strong ETags and honour If-None-Match."
        ),
        health=health,
        routers=[
            router,
            dead_letter_router(
                settings, settings.group_id(settings.consumer_group), lambda: service.runtime
            ),
        ],
        service_routers=[reconciliation.router],
        lifespan=lifespan,
        openapi_tags=[
            *OPENAPI_TAGS,
            {"name": "reconciliation", "description": "After a restore of the event store"},
        ],
    )
    app.state.service = service
    app.state.position_topics = settings.position_topics
    return app
