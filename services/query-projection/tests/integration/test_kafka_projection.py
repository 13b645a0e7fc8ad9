"""The running service on the real broker: consumer group, dead letters, restart, rebuild."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from query_projection.bootstrap import QueryProjection
from service_kit.topic_replay import partitions_of
from ticketing_contracts import headers as ce

from .conftest import dump_redis, dump_tables, running_app
from .test_read_models import scripted_history

pytestmark = pytest.mark.integration

# A bound, not a wait: generous for a group join on a busy 2-core CI machine.
JOIN_BUDGET_SECONDS = 30.0


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.01)
    raise AssertionError(f"{what} did not happen within {seconds}s")


async def assigned(api) -> None:
    service = api.app.state.service

    async def check() -> bool:
        return service.subscription.ever_assigned

    await eventually(check, JOIN_BUDGET_SECONDS, "partition assignment")


async def caught_up(api, position: int | None = None) -> dict:
    body: dict = {}

    async def check() -> bool:
        nonlocal body
        body = (await api.get("/internal/v1/positions")).json()
        return body["caught_up"] and (position is None or body["position"] >= position)

    await eventually(check, JOIN_BUDGET_SECONDS, "catching up")
    return body


async def test_published_events_reach_the_read_models_within_a_fraction_of_a_second(
    settings_factory, producer, scenario
):
    settings = await settings_factory()
    prefix = settings.kafka_topic_prefix
    async with running_app(settings) as api:
        await assigned(api)
        venue = scenario.venue_created()
        show = scenario.event_created(scenario.subject_id(venue), quantities=(10,))
        event_id = scenario.subject_id(show)
        (ticket_type_id,) = scenario.ticket_type_ids(show)
        await producer(prefix, venue, show)
        written = await api.get(
            f"/internal/v1/events/{event_id}", params={"min_position": show.position}
        )
        assert written.status_code == 200, written.text
        assert written.json()["venue"]["name"] == "Royal Hall"

        requested = scenario.booking_requested(event_id, ticket_type_id, quantity=2)
        booking_path = f"/internal/v1/bookings/{scenario.subject_id(requested)}"
        await producer(prefix, requested)

        async def pending() -> bool:
            response = await api.get(booking_path)
            return response.status_code == 200 and response.json()["status"] == "PENDING"

        booking_latency = await eventually(pending, 5, "booking status")

        await producer(
            prefix,
            scenario.stock_changed(event_id, ticket_type_id, quantity=10, reserved=2),
            scenario.booking_confirmed(requested),
        )

        async def reserved() -> bool:
            body = (await api.get(f"/internal/v1/events/{event_id}/availability")).json()
            return body["ticket_types"][0]["available"] == 8

        availability_latency = await eventually(reserved, 5, "availability change")
        print(
            f"command->read model: booking {booking_latency * 1000:.0f} ms, "
            f"availability {availability_latency * 1000:.0f} ms"
        )
        assert booking_latency < 1.0
        assert availability_latency < 1.0

        ready = await api.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["caught_up"]["status"] == "up"
        metrics = (await api.get("/metrics")).text
        assert "projection_lag_seconds_count" in metrics
        assert "kafka_consumer_lag{" in metrics


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_consumer_moves_on(
    settings_factory, producer, scenario
):
    settings = await settings_factory()
    prefix = settings.kafka_topic_prefix
    async with running_app(settings) as api:
        await assigned(api)
        venue = scenario.venue_created()
        key = str(scenario.subject_id(venue)).encode()
        await producer.kafka.send_and_wait(settings.catalog_topic, b"{broken", key=key)
        await producer(prefix, venue)
        response = await api.get(
            f"/internal/v1/venues/{scenario.subject_id(venue)}",
            params={"min_position": venue.position},
        )
        assert response.status_code == 200

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = await partitions_of(settings, [settings.dead_letter_topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records = []
        deadline = time.monotonic() + 10
        while not records and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            records = [r for batch in batches.values() for r in batch]
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [b"{broken"]
    headers = dict(records[0].headers)
    assert headers[ce.DEAD_LETTER_ORIGINAL_TOPIC].decode() == settings.catalog_topic
    assert headers[ce.DEAD_LETTER_ERROR].decode().startswith("UndecodableMessage")


async def test_restart_redelivery_converges_and_a_rebuild_equals_the_incremental_models(
    settings_factory, producer, scenario, harness
):
    settings = await settings_factory()
    prefix = settings.kafka_topic_prefix
    _, envelopes = await scripted_history(harness, scenario, bookings=12)
    async with running_app(settings) as api:
        await assigned(api)
        await producer(prefix, *envelopes)
        await caught_up(api, max(e.position or 0 for e in envelopes))

    pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=2)
    redis = Redis.from_url(str(settings.redis_url))
    try:
        incremental = await dump_tables(pool, 1)
        incremental_hot = await dump_redis(redis, f"{settings.redis_key_prefix}rm1:")

        # While the service is down the producers redeliver older messages, out of order.
        redelivered = random.Random(3).sample(envelopes, len(envelopes) // 2)
        await producer(prefix, *redelivered)
        async with running_app(settings) as api:
            await assigned(api)
            await caught_up(api)
            after_restart = await dump_tables(pool, 1)
            assert {k: v for k, v in after_restart.items() if k != "projection_offsets"} == {
                k: v for k, v in incremental.items() if k != "projection_offsets"
            }
            assert await dump_redis(redis, f"{settings.redis_key_prefix}rm1:") == incremental_hot

            started = time.monotonic()
            report = await QueryProjection(settings).rebuild()
            rebuild_seconds = time.monotonic() - started
            print(
                f"rebuild: {report.messages} messages in {rebuild_seconds:.2f}s "
                f"({report.messages / rebuild_seconds:.0f}/s)"
            )
            assert (report.generation, report.switched) == (2, True)
            assert await dump_tables(pool, 2) == after_restart
            assert await dump_redis(redis, f"{settings.redis_key_prefix}rm2:") == incremental_hot

            # Queries move to the new generation; the live consumer continues on it.
            venue = scenario.venue_created(name="After Rebuild")
            await producer(prefix, venue)
            response = await api.get(
                f"/internal/v1/venues/{scenario.subject_id(venue)}",
                params={"min_position": venue.position},
            )
            assert response.status_code == 200, response.text
            assert (await api.get("/internal/v1/positions")).json()["generation"] == 2
    finally:
        await pool.close()
        await redis.aclose()
