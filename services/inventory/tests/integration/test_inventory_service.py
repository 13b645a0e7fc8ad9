from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from inventory.bootstrap import InventoryRuntime
from inventory.domain.stock import ShowInventory
from inventory.settings import InventorySettings
from local_infra.pytest_plugin import DatabaseFactory
from local_infra.session_infrastructure import Infrastructure
from local_infra.tcp_proxy import TcpProxy
from service_kit.circuit_breakers import is_open
from service_kit.dead_letters import DeadLetterEntry, list_dead_letters, redrive_dead_letters
from service_kit.kafka.messages import OutboundMessage
from service_kit.kafka_topics import ensure_topics
from ticketing_contracts import events as public
from ticketing_contracts import headers as ce
from ticketing_contracts import topics

from .support import (
    Publisher,
    TopicReader,
    booking_confirmed,
    booking_requested,
    decided_bookings,
    inventory_settings,
    newest_stock,
    rejections,
    show_created,
    start_replica,
    stock_level,
    wait_until_decided,
)

pytestmark = pytest.mark.integration

# A bound, not a wait: generous for group joins and rebalances on a busy 2-core CI machine.
BUDGET_SECONDS = 90.0


@pytest_asyncio.fixture(loop_scope="session")
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await kafka.start()
    yield kafka
    await kafka.stop()


def unique_prefix(topic_prefix: str) -> str:
    return f"{topic_prefix}{uuid4().hex[:6]}."


async def stock_of(runtime: InventoryRuntime, event_id: UUID) -> ShowInventory:
    show = await runtime.queries.show(event_id)
    assert show is not None
    return show


async def test_two_replicas_never_oversell_under_ten_times_demand_with_duplicates(
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    producer: AIOKafkaProducer,
) -> None:
    prefix = unique_prefix(topic_prefix)
    database_url = await database_factory("inventory_replicas")
    settings = inventory_settings(
        database_url=database_url,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        topic_prefix=prefix,
        consumer_max_batch=100,
    )
    first: InventoryRuntime | None = None
    second: InventoryRuntime | None = None
    await ensure_topics(
        settings,
        [
            settings.topic(name)
            for name in (topics.BOOKING_EVENTS, topics.CATALOG_EVENTS, topics.INVENTORY_EVENTS)
        ],
    )
    outcomes = TopicReader(settings.kafka_bootstrap_servers, prefix + topics.INVENTORY_EVENTS)
    await outcomes.start()
    publisher = Publisher(producer, prefix)
    chooser = random.Random(42)
    shows = {uuid4(): {uuid4(): 30, uuid4(): 20} for _ in range(3)}
    capacity = {tt: quantity for types in shows.values() for tt, quantity in types.items()}
    requests = [
        booking_requested(event_id, ticket_type_id, chooser.randint(1, 4))
        for event_id, types in shows.items()
        for ticket_type_id, quantity in types.items()
        for _ in range(quantity * 10 // 2)  # ~10x the capacity in tickets (mean 2.5)
    ]
    chooser.shuffle(requests)
    try:
        # Requests first, the catalog after, both in the log before inventory starts: it
        # reads the two topics side by side and must not reject the requests as unknown.
        await publisher.publish_all(requests[:50], duplicate_share=0.2)
        for event_id, types in shows.items():
            await publisher.publish(show_created(event_id, types))
            await publisher.publish(public.EventPublished(event_id=event_id))
        first = await start_replica(settings)
        await publisher.publish_all(requests[50:200], duplicate_share=0.2)
        second = await start_replica(settings)  # joins the group: a rebalance mid-run
        started = time.perf_counter()
        await publisher.publish_all(requests[200:], duplicate_share=0.2)
        by_id = {request.booking_id: request for request in requests}
        decided = await wait_until_decided(database_url, set(by_id), BUDGET_SECONDS)
        elapsed = time.perf_counter() - started

        # Each booking decided once: held, or refused with one published rejection.
        reserved = [by_id[b] for b, row in decided.items() if row["state"] == "reserved"]
        refused = {b for b, row in decided.items() if row["state"] == "rejected"}
        assert len(reserved) + len(refused) == len(requests)
        held_per_type = Counter[UUID]()
        for request in reserved:
            held_per_type[request.ticket_type_id] += request.quantity
        # The stock facts say what inventory stores, once the newest of each arrived.
        held_stock = {t: stock_level(q, held_per_type[t], 0) for t, q in capacity.items()}
        await outcomes.wait_for(
            lambda r: newest_stock(r) == held_stock and set(rejections(r)) == refused,
            BUDGET_SECONDS,
        )
        per_booking = rejections(outcomes)
        assert all(len(found) == 1 for found in per_booking.values()), "one rejection each"
        rejected = [found for (found,) in per_booking.values()]
        assert {r.reason for r in rejected} <= {
            public.RejectionReason.SOLD_OUT,
            public.RejectionReason.NOT_ENOUGH_TICKETS,
        }

        # Confirm every reservation (twice, like a redelivery) and watch them all sell.
        await publisher.publish_all(
            [booking_confirmed(request) for request in reserved], duplicate_share=1.0
        )
        sold_stock = {t: stock_level(q, 0, held_per_type[t]) for t, q in capacity.items()}
        await outcomes.wait_for(lambda reader: newest_stock(reader) == sold_stock, BUDGET_SECONDS)
        for event_id, types in shows.items():
            show = await stock_of(first, event_id)
            for ticket_type_id, quantity in types.items():
                stock = show.ticket_types[ticket_type_id]
                assert stock.sold == held_per_type[ticket_type_id] <= quantity
                assert stock.reserved == 0
                too_big = [
                    r.quantity
                    for r in rejected
                    if r.ticket_type_id == ticket_type_id
                    and r.reason is public.RejectionReason.NOT_ENOUGH_TICKETS
                ]
                # Whatever is left could not fit any request that was turned away.
                assert stock.available == 0 or stock.available < min(too_big)
        assert sum(held_per_type.values()) <= sum(capacity.values())
        print(
            f"\n{len(requests) - 200} requests decided in {elapsed:.2f}s "
            f"({(len(requests) - 200) / elapsed:.0f}/s incl. publishing and a rebalance)"
        )
    finally:
        await outcomes.stop()
        for replica in (first, second):
            if replica is not None:
                await replica.stop()


async def dead_letters_of(settings: InventorySettings) -> list[DeadLetterEntry]:
    return await list_dead_letters(
        settings.kafka_bootstrap_servers,
        settings.topic(topics.DEAD_LETTERS),
        consumer_group=settings.group_id(settings.consumer_group),
    )


def breaker_metric(name: str) -> float | None:
    return REGISTRY.get_sample_value("circuit_breaker_state", {"name": name})


async def test_postgres_outage_opens_the_breaker_and_nothing_is_lost(
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    producer: AIOKafkaProducer,
) -> None:
    prefix = unique_prefix(topic_prefix)
    database_url = await database_factory("inventory_outage")
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    user = f"{parts.username}@" if parts.username else ""
    proxied_url = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
    settings = inventory_settings(
        database_url=proxied_url,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        topic_prefix=prefix,
        breaker_fail_max=3,
    )
    replica = await start_replica(settings)
    outcomes = TopicReader(settings.kafka_bootstrap_servers, prefix + topics.INVENTORY_EVENTS)
    await outcomes.start()
    publisher = Publisher(producer, prefix)
    event_id, ticket_type_id = uuid4(), uuid4()
    await publisher.publish(show_created(event_id, {ticket_type_id: 40}))
    await publisher.publish(public.EventPublished(event_id=event_id))
    requests = [booking_requested(event_id, ticket_type_id, 1 + n % 3) for n in range(60)]
    first_ids = {request.booking_id for request in requests[:20]}
    try:
        await publisher.publish_all(requests[:20])
        await wait_until_decided(database_url, first_ids, BUDGET_SECONDS)
        # Its stock fact is out (40 tickets, 20 bookings of 1-3: all held).
        first_held = sum(request.quantity for request in requests[:20])
        await outcomes.wait_for(
            lambda r: newest_stock(r).get(ticket_type_id) == stock_level(40, first_held, 0),
            BUDGET_SECONDS,
        )

        await proxy.cut()
        await publisher.publish_all(requests[20:], duplicate_share=0.3)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not is_open(replica.postgres_breaker):
            assert loop.time() < deadline, "the PostgreSQL breaker never opened"
            await asyncio.sleep(0.1)
        assert breaker_metric("postgres") == 2
        await asyncio.sleep(1.5)  # a few breaker periods: nothing is decided, nothing skipped
        requested_ids = {request.booking_id for request in requests}
        assert set(await decided_bookings(database_url, requested_ids)) == first_ids
        assert not await dead_letters_of(settings), "an outage is waited out, not dead-lettered"

        await proxy.restore()
        decided = await wait_until_decided(database_url, requested_ids, BUDGET_SECONDS)
        assert not is_open(replica.postgres_breaker)
        reserved = sum(row["quantity"] for row in decided.values() if row["state"] == "reserved")
        refused = {b for b, row in decided.items() if row["state"] == "rejected"}
        stock = (await stock_of(replica, event_id)).ticket_types[ticket_type_id]
        assert stock.reserved == reserved <= 40
        await outcomes.wait_for(
            lambda r: (
                newest_stock(r).get(ticket_type_id) == stock_level(40, reserved, 0)
                and set(rejections(r)) == refused
            ),
            BUDGET_SECONDS,
        )
        assert all(len(found) == 1 for found in rejections(outcomes).values())
    finally:
        await outcomes.stop()
        await replica.stop()
        await proxy.cut()


async def test_poison_message_goes_to_the_dead_letter_topic_and_the_next_is_processed(
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    producer: AIOKafkaProducer,
) -> None:
    prefix = unique_prefix(topic_prefix)
    settings = inventory_settings(
        database_url=await database_factory("inventory_poison"),
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        topic_prefix=prefix,
    )
    replica = await start_replica(settings)
    booking_topic = prefix + topics.BOOKING_EVENTS
    dead_letter_topic = prefix + topics.DEAD_LETTERS
    outcomes = TopicReader(settings.kafka_bootstrap_servers, prefix + topics.INVENTORY_EVENTS)
    dead_letters = TopicReader(settings.kafka_bootstrap_servers, dead_letter_topic)
    await outcomes.start()
    await dead_letters.start()
    publisher = Publisher(producer, prefix)
    event_id, ticket_type_id = uuid4(), uuid4()
    try:
        await publisher.publish(show_created(event_id, {ticket_type_id: 5}))
        await publisher.publish(public.EventPublished(event_id=event_id))
        poison = await producer.send_and_wait(
            booking_topic, b"{not json", key=str(event_id).encode(), headers=[("x", b"1")]
        )
        request = booking_requested(event_id, ticket_type_id, 2)
        future_version = publisher.envelope(request).model_copy(update={"version": 99})
        await publisher.publish(request, future_version)  # unknown schema version
        await publisher.publish_all([request])

        await outcomes.wait_for(
            lambda r: newest_stock(r).get(ticket_type_id) == stock_level(5, 2, 0), BUDGET_SECONDS
        )
        await dead_letters.wait_for(lambda r: len(r.records) == 2, BUDGET_SECONDS)
        first = dict(dead_letters.records[0].headers)
        assert first[ce.DEAD_LETTER_ORIGINAL_TOPIC] == booking_topic.encode()
        assert first[ce.DEAD_LETTER_ORIGINAL_PARTITION] == str(poison.partition).encode()
        assert first[ce.DEAD_LETTER_ORIGINAL_OFFSET] == str(poison.offset).encode()
        assert b"UndecodableMessage" in first[ce.DEAD_LETTER_ERROR]
        assert first["x"] == b"1"
        assert b"UnknownEventType" in dict(dead_letters.records[1].headers)[ce.DEAD_LETTER_ERROR]

        listed = await dead_letters_of(settings)
        assert [entry.original_offset for entry in listed] == [poison.offset, poison.offset + 1]

        async def send(
            topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
        ) -> None:
            await replica.kafka.publish([OutboundMessage(topic, key, value, headers)])

        group = settings.group_id(settings.consumer_group)
        redriven = await redrive_dead_letters(
            settings.kafka_bootstrap_servers, dead_letter_topic, send, consumer_group=group, limit=1
        )
        assert [entry.original_offset for entry in redriven] == [poison.offset]
        # Still poison: the re-driven message comes back as a new dead letter.
        await dead_letters.wait_for(lambda r: len(r.records) == 3, BUDGET_SECONDS)
        again = await redrive_dead_letters(
            settings.kafka_bootstrap_servers, dead_letter_topic, send, consumer_group=group
        )
        # Each dead letter is re-driven once: the rest of the first run, then the new one.
        assert len(again) == 2
        assert again[0].original_offset == poison.offset + 1
        assert again[1].original_offset is not None
        assert again[1].original_offset > poison.offset + 2
        assert (await stock_of(replica, event_id)).ticket_types[ticket_type_id].reserved == 2
    finally:
        await outcomes.stop()
        await dead_letters.stop()
        await replica.stop()
