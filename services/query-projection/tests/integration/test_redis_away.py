"""The projection while its Redis is frozen, then killed and started empty: PostgreSQL's read
models keep moving and answer the reads, and Redis's are filled again from them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from local_infra.redis_server import RedisServer, temporary_redis_server
from query_projection.adapters.postgres_schema import ensure_read_models
from query_projection.application.queries import Consistency
from service_kit.redis_pool import redis_breaker, redis_client
from ticketing_contracts.events import BookingStatus

from .conftest import Harness, dump_redis

pytestmark = pytest.mark.integration

NOW = Consistency()


@pytest_asyncio.fixture(loop_scope="session")
async def redis_server() -> AsyncIterator[RedisServer]:
    async with temporary_redis_server() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def harness_on_own_redis(
    settings_factory, log_factory, redis_server: RedisServer
) -> AsyncIterator[Harness]:
    settings = await settings_factory(redis_url=redis_server.url)
    pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=8)
    redis = redis_client(
        redis_server.url, timeout_seconds=0.5, breaker=redis_breaker(reset_seconds=0.2)
    )
    await ensure_read_models(pool)
    try:
        yield Harness(settings, pool, redis, log_factory(settings.kafka_topic_prefix))
    finally:
        await pool.close()
        await redis.aclose()


async def test_reads_come_from_postgres_while_redis_is_away_and_redis_is_filled_again(
    harness_on_own_redis: Harness, redis_server: RedisServer, scenario
) -> None:
    harness = harness_on_own_redis
    venue = scenario.venue_created()
    created = scenario.event_created(scenario.subject_id(venue), quantities=(10,))
    event_id, (ticket_type_id,) = scenario.subject_id(created), scenario.ticket_type_ids(created)
    requested = scenario.booking_requested(event_id, ticket_type_id, quantity=2)
    booking_id = scenario.subject_id(requested)
    await harness.publish(
        venue,
        created,
        scenario.stock_changed(event_id, ticket_type_id, quantity=10, reserved=2),
        requested,
    )
    await harness.hot_refill()
    generation = await harness.store.active_generation()
    assert harness.hot.serving == generation

    redis_server.freeze()
    await harness.publish(
        scenario.booking_confirmed(requested),
        scenario.stock_changed(event_id, ticket_type_id, quantity=10, sold=2),
    )
    assert harness.hot.missed_writes
    availability = (await harness.queries.availability(event_id, NOW)).value
    booking = (await harness.queries.booking(booking_id, NOW)).value
    assert (availability.ticket_types[0].sold, availability.ticket_types[0].available) == (2, 8)
    assert booking.status is BookingStatus.CONFIRMED
    assert not await harness.hot_refill()  # nothing to fill while Redis is away

    redis_server.kill()
    redis_server.forget_data()
    await redis_server.start()
    await harness.publish(scenario.booking_requested(event_id, ticket_type_id, quantity=1))
    await harness.hot_refill()

    assert harness.hot.serving == generation
    assert not harness.hot.missed_writes
    namespace = harness.hot.keys(generation).namespace
    filled = await dump_redis(harness.redis, namespace)
    assert filled[f"booking:{booking_id}"]["status"] == "CONFIRMED"
    level = (await harness.hot.availability(generation, event_id))[0]
    assert (level.sold, level.available) == (2, 8)
    assert sum(1 for key in filled if key.startswith("booking:")) == 2
