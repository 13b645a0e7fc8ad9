from __future__ import annotations

from collections import Counter

import pytest

from booking_command.adapters.outbox_relay import OutboxRelay
from booking_command.adapters.public_events import OutboxMapper
from booking_command.adapters.relay_leadership import RelayLeadership
from booking_command.bootstrap import Runtime
from booking_command.settings import BookingCommandSettings
from service_kit.kafka.runtime import KafkaRuntime
from ticketing_contracts import topics

from .conftest import eventually, put_event_on_sale, read_topic, start_kafka

pytestmark = pytest.mark.integration


def replica_relay(runtime: Runtime, kafka: KafkaRuntime) -> OutboxRelay:
    return OutboxRelay(
        runtime.app,
        runtime.executor,
        OutboxMapper(runtime.app.mapper, runtime.settings.topic),
        kafka.publish,
        idle_poll_seconds=0.05,
        leadership=RelayLeadership(runtime.settings.database_dsn),
    )


async def catalog_event_ids(settings: BookingCommandSettings) -> Counter[str]:
    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic(topics.CATALOG_EVENTS)
    )
    return Counter(dict(record.headers)["ce_id"].decode() for record in records)


async def test_two_replicas_publish_each_event_once_and_a_standby_takes_over(
    runtime: Runtime, settings: BookingCommandSettings
) -> None:
    kafka = await start_kafka(runtime)
    first, second = replica_relay(runtime, kafka), replica_relay(runtime, kafka)
    first.start()
    await eventually(lambda: _is_leader(first))
    await eventually(lambda: _published(settings, 0))
    second.start()
    try:
        await runtime.executor.run(put_event_on_sale, runtime.app)
        await eventually(lambda: _published(settings, 3))
        assert second.leadership is not None
        assert not second.leadership.is_leader

        await first.stop()
        await runtime.executor.run(put_event_on_sale, runtime.app)
        await eventually(lambda: _is_leader(second))
        await eventually(lambda: _published(settings, 6))
    finally:
        await first.stop()
        await second.stop()

    published = await catalog_event_ids(settings)
    assert len(published) == 6
    assert set(published.values()) == {1}, "an event was published more than once"


async def _is_leader(relay: OutboxRelay) -> bool:
    return relay.leadership is not None and relay.leadership.is_leader


async def _published(settings: BookingCommandSettings, count: int) -> bool:
    return sum((await catalog_event_ids(settings)).values()) >= count
