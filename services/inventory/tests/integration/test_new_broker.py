"""Inventory against a Kafka broker that is replaced by a new, empty one."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from local_infra.broker import KafkaBroker
from local_infra.pytest_plugin import DatabaseFactory
from local_infra.session_infrastructure import Infrastructure
from service_kit.internal_auth import generate_key_pair
from ticketing_contracts import events as public
from ticketing_contracts import topics
from ticketing_contracts.envelope import EventEnvelope

from .support import (
    Publisher,
    TopicReader,
    booking_requested,
    inventory_settings,
    newest_stock,
    show_created,
    start_replica,
    stock_facts,
    stock_level,
)

pytestmark = pytest.mark.integration

BUDGET_SECONDS = 90.0


@pytest.fixture
async def broker_b(tmp_path: Path) -> AsyncIterator[KafkaBroker]:
    broker = KafkaBroker(tmp_path / "broker-b")
    await broker.start()
    yield broker
    broker.stop()


async def outcomes_on(
    bootstrap_servers: str, topic: str, ticket_type_id: UUID, stock: public.StockLevel
) -> TopicReader:
    """The topic read until the newest stock fact of `ticket_type_id` shows `stock`."""
    reader = TopicReader(bootstrap_servers, topic)
    await reader.start()
    try:
        await reader.wait_for(
            lambda r: newest_stock(r).get(ticket_type_id) == stock, BUDGET_SECONDS
        )
    finally:
        await reader.stop()
    return reader


def broker_changes() -> float:
    return REGISTRY.get_sample_value("kafka_broker_changes_total", {"service": "inventory"}) or 0


async def test_a_new_broker_gets_every_outcome_again_and_redelivered_bookings_apply_once(
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    broker_b: KafkaBroker,
) -> None:
    prefix = f"{topic_prefix}{uuid4().hex[:6]}."
    database_url = await database_factory("inventory_new_broker")
    event_id, ticket_type_id = uuid4(), uuid4()
    catalog: list[public.PublicEvent] = [
        show_created(event_id, {ticket_type_id: 10}),
        public.EventPublished(event_id=event_id),
    ]
    before = [booking_requested(event_id, ticket_type_id, 2) for _ in range(3)]
    outcome_topic = prefix + topics.INVENTORY_EVENTS
    public_key = generate_key_pair()[1]

    # Broker A: the catalog and three bookings, each reserved.
    settings_a = inventory_settings(
        database_url=database_url,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        topic_prefix=prefix,
        internal_token_public_key=public_key,
    )
    inventory = await start_replica(settings_a)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        publisher = Publisher(producer, prefix)
        sent: list[EventEnvelope] = await publisher.publish_all([*catalog, *before])
        on_a = await outcomes_on(
            settings_a.kafka_bootstrap_servers, outcome_topic, ticket_type_id, stock_level(10, 6, 0)
        )
    finally:
        await producer.stop()
        await inventory.stop()
    published_on_a = {public.decode_message(r.value)[0].event_id for r in on_a.records}

    # Broker B, new and empty: booking-command republishes the same envelopes, then one more.
    changes = broker_changes()
    settings_b = inventory_settings(
        database_url=database_url,
        bootstrap_servers=broker_b.bootstrap_servers,
        topic_prefix=prefix,
        internal_token_public_key=public_key,
    )
    inventory = await start_replica(settings_b)
    producer = AIOKafkaProducer(bootstrap_servers=broker_b.bootstrap_servers)
    await producer.start()
    try:
        publisher = Publisher(producer, prefix)
        for event, envelope in zip([*catalog, *before], sent, strict=True):
            await publisher.publish(event, envelope)
        after = booking_requested(event_id, ticket_type_id, 2)
        await publisher.publish_all([after])
        on_b = await outcomes_on(
            broker_b.bootstrap_servers, outcome_topic, ticket_type_id, stock_level(10, 8, 0)
        )
        show = await inventory.queries.show(event_id)
    finally:
        await producer.stop()
        await inventory.stop()

    assert broker_changes() == changes + 1
    ids_on_b = Counter(public.decode_message(r.value)[0].event_id for r in on_b.records)
    assert published_on_a <= set(ids_on_b), "everything published on A is on B again"
    assert all(count == 1 for count in ids_on_b.values()), "nothing published twice on B"
    versions = [fact.stock_version for fact in stock_facts(on_b, ticket_type_id)]
    assert len(versions) == len(set(versions)), "each stock version published once"
    assert show is not None
    assert show.ticket_types[ticket_type_id].reserved == 8, "four bookings of two, none doubled"
