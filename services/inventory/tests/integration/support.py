"""Producers, outcome readers and replicas for the integration tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from inventory.bootstrap import InventoryRuntime
from inventory.settings import InventorySettings
from service_kit.internal_auth import generate_key_pair
from service_kit.messaging import envelope_headers
from service_kit.topic_replay import partitions_of
from ticketing_contracts import events as public
from ticketing_contracts.envelope import EventEnvelope


def inventory_settings(
    *, database_url: str, bootstrap_servers: str, topic_prefix: str, **overrides: Any
) -> InventorySettings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap_servers,
        "kafka_topic_prefix": topic_prefix,
        "consumer_retry_initial_seconds": 0.02,
        "consumer_retry_max_seconds": 0.2,
        "retry_initial_seconds": 0.02,
        "retry_max_seconds": 0.2,
        "breaker_reset_seconds": 1.0,
        "catalog_catch_up_seconds": 10.0,
        "database_pool_size": 4,
        "internal_token_public_key": generate_key_pair()[1],
    }
    values.update(overrides)
    return InventorySettings.model_validate(values)


def show_created(event_id: UUID, ticket_types: dict[UUID, int]) -> public.EventCreated:
    return public.EventCreated(
        event_id=event_id,
        venue_id=uuid4(),
        name="Flash sale",
        starts_at=datetime.now(UTC) + timedelta(days=7),
        ticket_types=tuple(
            public.TicketType(
                ticket_type_id=ticket_type_id,
                name=f"Tier {n}",
                price=Decimal("25.00"),
                currency="EUR",
                quantity=quantity,
            )
            for n, (ticket_type_id, quantity) in enumerate(ticket_types.items())
        ),
    )


def booking_requested(
    event_id: UUID, ticket_type_id: UUID, quantity: int, booking_id: UUID | None = None
) -> public.BookingRequested:
    return public.BookingRequested(
        booking_id=booking_id or uuid4(),
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        quantity=quantity,
        owner_id="user-1",
        customer_name="Grace Hopper",
        customer_email="grace@example.org",
        unit_price=Decimal("25.00"),
        total_price=Decimal("25.00") * quantity,
        currency="EUR",
        hold_expires_at=datetime.now(UTC) + timedelta(minutes=10),
    )


def booking_confirmed(request: public.BookingRequested) -> public.BookingConfirmed:
    return public.BookingConfirmed(
        booking_id=request.booking_id,
        event_id=request.event_id,
        ticket_type_id=request.ticket_type_id,
        quantity=request.quantity,
        owner_id="user-1",
        customer_name="Grace Hopper",
        customer_email="grace@example.org",
        total_price=Decimal("25.00") * request.quantity,
        currency="EUR",
        provider_reference=f"pi_{request.booking_id.hex[:12]}",
    )


class Publisher:
    """Publishes like booking-command's relay would: envelope, CE headers, show id as key."""

    def __init__(self, producer: AIOKafkaProducer, topic_prefix: str) -> None:
        self.producer = producer
        self.topic_prefix = topic_prefix

    def envelope(self, event: public.PublicEvent) -> EventEnvelope:
        return event.to_envelope(correlation_id=f"corr-{uuid4().hex}", producer="test")

    async def publish(
        self, event: public.PublicEvent, envelope: EventEnvelope | None = None
    ) -> EventEnvelope:
        envelope = envelope or self.envelope(event)
        await self.producer.send(
            f"{self.topic_prefix}{event.TOPIC}",
            public.encode_envelope(envelope),
            key=event.partition_key().encode(),
            headers=envelope_headers(envelope),
        )
        return envelope

    async def publish_all(
        self, events: Iterable[public.PublicEvent], *, duplicate_share: float = 0.0
    ) -> list[EventEnvelope]:
        """Publishes each event; a share of them a second time (same envelope, new offset)."""
        chooser = random.Random(7)
        envelopes = []
        for event in events:
            envelope = await self.publish(event)
            envelopes.append(envelope)
            if chooser.random() < duplicate_share:
                await self.publish(event, envelope)
        await self.producer.flush()
        return envelopes


class TopicReader:
    """Reads a whole topic from the beginning without a consumer group."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False
        )
        self.records: list[Any] = []

    async def start(self) -> None:
        await self.consumer.start()
        assigned = await partitions_of(self.bootstrap_servers, [self.topic])
        assert assigned, f"topic {self.topic} has no partitions"
        self.consumer.assign(assigned)
        await self.consumer.seek_to_beginning(*assigned)

    async def stop(self) -> None:
        await self.consumer.stop()

    def events(self) -> list[public.PublicEvent]:
        """Decoded events, each envelope once (the relay may re-send after a crash)."""
        seen: set[UUID] = set()
        events = []
        for record in self.records:
            envelope, event = public.decode_message(record.value)
            if envelope.event_id not in seen:
                seen.add(envelope.event_id)
                events.append(event)
        return events

    async def wait_for(self, done: Callable[[TopicReader], bool], seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.topic}: condition not met, {len(self.records)} read")
            batches = await self.consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for records in batches.values():
                self.records.extend(records)


def rejections(reader: TopicReader) -> dict[UUID, list[public.ReservationRejected]]:
    """The refusals of bookings inventory decided from their facts, per booking."""
    by_booking: dict[UUID, list[public.ReservationRejected]] = {}
    for event in reader.events():
        if isinstance(event, public.ReservationRejected):
            by_booking.setdefault(event.booking_id, []).append(event)
    return by_booking


def stock_facts(reader: TopicReader, ticket_type_id: UUID) -> list[public.StockChanged]:
    return [
        event
        for event in reader.events()
        if isinstance(event, public.StockChanged) and event.ticket_type_id == ticket_type_id
    ]


def newest_stock(reader: TopicReader) -> dict[UUID, public.StockLevel]:
    """What a read model that drops older stock versions shows, per ticket type."""
    newest: dict[UUID, public.StockChanged] = {}
    for event in reader.events():
        if not isinstance(event, public.StockChanged):
            continue
        known = newest.get(event.ticket_type_id)
        if known is None or event.stock_version > known.stock_version:
            newest[event.ticket_type_id] = event
    return {ticket_type_id: fact.stock for ticket_type_id, fact in newest.items()}


def stock_level(quantity: int, reserved: int, sold: int) -> public.StockLevel:
    return public.StockLevel(
        quantity=quantity, reserved=reserved, sold=sold, available=quantity - reserved - sold
    )


async def decided_bookings(database_url: str, booking_ids: Iterable[UUID]) -> dict[UUID, Any]:
    """inventory's row of each of these bookings it decided (state, quantity, ticket type)."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT booking_id, ticket_type_id, quantity, state FROM bookings "
            "WHERE booking_id = ANY($1::uuid[])",
            list(booking_ids),
        )
    finally:
        await connection.close()
    return {row["booking_id"]: row for row in rows}


async def wait_until_decided(
    database_url: str, booking_ids: set[UUID], seconds: float
) -> dict[UUID, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while len(decided := await decided_bookings(database_url, booking_ids)) < len(booking_ids):
        if loop.time() > deadline:
            raise TimeoutError(f"{len(decided)} of {len(booking_ids)} bookings decided")
        await asyncio.sleep(0.2)
    return decided


async def start_replica(settings: InventorySettings) -> InventoryRuntime:
    runtime = InventoryRuntime(settings)
    await runtime.start()
    return runtime
