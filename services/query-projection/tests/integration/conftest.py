"""Real PostgreSQL, Redis and broker, one database / key prefix / topic prefix per test."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from query_projection.adapters.postgres_hot_rows import PostgresHotRows
from query_projection.adapters.postgres_schema import (
    READ_MODEL_TABLES,
    ensure_read_models,
    in_schema,
)
from query_projection.adapters.postgres_store import PostgresReadModelStore
from query_projection.adapters.postgres_views import PostgresViews
from query_projection.adapters.redis_read_models import RedisReadModels
from query_projection.application.apply_batch import ApplyBatch, BatchResult
from query_projection.application.hot_refill import HotRefill
from query_projection.application.messages import ProjectedMessage
from query_projection.application.queries import ReadModelQueries
from query_projection.application.waiting import PositionWaiter, ProgressSignal
from query_projection.bootstrap import build_app
from query_projection.settings import QueryProjectionSettings
from service_kit.internal_auth import Caller, InternalRole, InternalTokenIssuer, generate_key_pair
from service_kit.kafka.messages import PartitionBatch
from service_kit.messaging import envelope_headers
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import encode_envelope


class LogEndOffsets:
    def __init__(self, log) -> None:
        self.log = log

    async def end_offsets(self, topics):
        return {key: end for key, end in self.log.offsets.items() if key[0] in topics}


class Harness:
    """The projection's use cases on real stores, fed messages directly (no consumer)."""

    def __init__(self, settings: QueryProjectionSettings, pool: asyncpg.Pool, redis: Redis, log):
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.store = PostgresReadModelStore(pool, pointer_ttl_seconds=0)
        self.views = PostgresViews(pool)
        self.hot = RedisReadModels(redis, settings.redis_key_prefix)
        self.stored_hot = PostgresHotRows(pool)
        self.apply_batch = ApplyBatch(self.store, self.hot)
        self.log = log
        self.signal = ProgressSignal()
        self.end_offsets = LogEndOffsets(self.log)
        self.waiter = PositionWaiter(
            self.store, self.end_offsets, settings.position_topics, self.signal
        )
        self.queries = ReadModelQueries(
            self.store,
            self.views,
            self.hot,
            self.waiter,
            self.end_offsets,
            settings.projected_topics,
            self.stored_hot,
        )
        self.hot_refill = HotRefill(self.store, self.stored_hot, self.hot)

    async def deliver(self, messages: list[ProjectedMessage]) -> list[BatchResult]:
        """Applies the messages as the subscriber would: one batch per partition."""
        by_partition: dict[tuple[str, int], list[ProjectedMessage]] = {}
        for message in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
            by_partition.setdefault((message.topic, message.partition), []).append(message)
        results = []
        for (topic, partition), batch in by_partition.items():
            next_offset = batch[-1].offset + 1
            results.append(await self._apply(PartitionBatch(topic, partition, batch, next_offset)))
        return results

    async def _apply(self, batch: PartitionBatch) -> BatchResult:
        for attempt in range(5):
            try:
                result = await self.apply_batch(
                    batch, generation=await self.store.active_generation()
                )
            except asyncpg.DeadlockDetectedError:
                # Two batches touching the same rows; the runtime retries the same way.
                await asyncio.sleep(0.01 * (attempt + 1))
                continue
            self.signal.notify()
            return result
        raise AssertionError("batch kept deadlocking")

    async def publish(self, *envelopes: EventEnvelope) -> list[ProjectedMessage]:
        messages = self.log.messages(envelopes)
        await self.deliver(messages)
        return messages

    async def availability(self, event_id) -> dict[Any, dict[str, int]]:
        generation = await self.store.active_generation()
        self.hot.serving = generation  # Redis's keys as the projection wrote them
        return {
            s.ticket_type_id: {
                "quantity": s.quantity,
                "reserved": s.reserved,
                "sold": s.sold,
                "available": s.available,
                "stock_version": s.stock_version,
            }
            for s in await self.hot.availability(generation, event_id)
        }


async def dump_tables(pool: asyncpg.Pool, generation: int) -> dict[str, list[tuple[Any, ...]]]:
    dump = {}
    for table in READ_MODEL_TABLES:
        rows = await pool.fetch(in_schema(f"SELECT * FROM {{s}}.{table}", generation))  # noqa: S608
        dump[table] = sorted(
            (tuple((k, v) for k, v in row.items() if k != "search") for row in rows), key=repr
        )
    return dump


async def dump_redis(redis: Redis, namespace: str) -> dict[str, Any]:
    dump: dict[str, Any] = {}
    async for key in redis.scan_iter(match=f"{namespace}*", count=500):
        name = key.decode().removeprefix(namespace)
        if name == "filled":  # says the keys are whole (hot_refill.py), holds no read model
            continue
        kind = (await redis.type(key)).decode()
        if kind == "hash":
            value = {k.decode(): v.decode() for k, v in (await redis.hgetall(key)).items()}
            value.pop("body", None)  # the event cache body is filled by readers
            dump[name] = value
        elif kind == "zset":
            dump[name] = await redis.zrange(key, 0, -1, withscores=True)
        else:
            dump[name] = await redis.get(key)
    return dump


INTERNAL_PRIVATE_KEY, INTERNAL_PUBLIC_KEY = generate_key_pair()
INTERNAL_TOKENS = InternalTokenIssuer.from_text(INTERNAL_PRIVATE_KEY)


def internal_token(caller_id: str | None, role: InternalRole) -> dict[str, str]:
    """The header the gateway sends for this caller."""
    authorization = INTERNAL_TOKENS.authorization("query-projection", Caller(caller_id, role))
    return {"Authorization": authorization}


def make_settings(infrastructure, database_url, redis_key_prefix, topic_prefix, **overrides):
    suffix = secrets.token_hex(3)
    values: dict[str, Any] = {
        "environment": "test",
        "internal_token_public_key": INTERNAL_PUBLIC_KEY,
        "database_url": database_url,
        "redis_url": infrastructure.redis_url,
        "redis_key_prefix": f"{redis_key_prefix}{suffix}:",
        "kafka_bootstrap_servers": infrastructure.kafka_bootstrap_servers,
        "kafka_topic_prefix": f"{topic_prefix}{suffix}.",
        "topic_partitions": 4,
        **overrides,
    }
    return QueryProjectionSettings(**values)


@pytest_asyncio.fixture(loop_scope="session")
async def settings_factory(infrastructure, database_factory, redis_key_prefix, topic_prefix):
    async def build(**overrides: Any) -> QueryProjectionSettings:
        database_url = await database_factory(f"query_{secrets.token_hex(4)}")
        return make_settings(
            infrastructure, database_url, redis_key_prefix, topic_prefix, **overrides
        )

    return build


@pytest_asyncio.fixture(loop_scope="session")
async def harness(settings_factory, log_factory) -> AsyncIterator[Harness]:
    settings = await settings_factory()
    pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=8)
    redis = Redis.from_url(str(settings.redis_url))
    await ensure_read_models(pool)
    try:
        yield Harness(settings, pool, redis, log_factory(settings.kafka_topic_prefix))
    finally:
        await pool.close()
        await redis.aclose()


@asynccontextmanager
async def running_app(settings: QueryProjectionSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # As an admin by default; tests of who may see what pass their own token.
        admin = internal_token("admin-1", "admin")
        async with httpx.AsyncClient(
            transport=transport, base_url="http://query", headers=admin
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest_asyncio.fixture(loop_scope="session")
async def producer(infrastructure, log_factory) -> AsyncIterator[Callable[..., Any]]:
    kafka = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers, acks="all")
    await kafka.start()

    async def publish(prefix: str, *envelopes: EventEnvelope) -> None:
        for envelope in envelopes:
            await kafka.send_and_wait(
                prefix + log_factory.topic_of(envelope),
                encode_envelope(envelope),
                key=log_factory.partition_key(envelope).encode(),
                headers=envelope_headers(envelope),
            )

    publish.kafka = kafka  # type: ignore[attr-defined]
    try:
        yield publish
    finally:
        await kafka.stop()
