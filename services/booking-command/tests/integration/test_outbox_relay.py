from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from aiokafka.errors import KafkaConnectionError

from booking_command.adapters.outbox_relay import OutboxRelay
from booking_command.adapters.public_events import OutboxMapper
from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication
from booking_command.bootstrap import Runtime
from booking_command.domain.catalog_event import SaleTerms, TicketTypeSpec
from booking_command.settings import BookingCommandSettings
from service_kit.kafka.messages import OutboundMessage
from service_kit.kafka.runtime import KafkaRuntime
from ticketing_contracts import topics
from ticketing_contracts.events import BookingConfirmed

from ..unit.handling import message, store
from .conftest import booking_request, eventually, put_event_on_sale, read_topic, start_kafka

pytestmark = pytest.mark.integration


def request_booking(app: BookingCommandApplication, event_id: UUID, ticket_type_id: UUID) -> UUID:
    [result] = store(
        app,
        [booking_request(event_id, ticket_type_id, quantity=2)],
    )
    return result.id


async def published_types(settings: BookingCommandSettings, topic: str) -> list[str]:
    records = await read_topic(settings.kafka_bootstrap_servers, settings.topic(topic))
    return [dict(record.headers)["ce_type"].decode() for record in records]


class HangingBroker:
    """Stands in for a broker connection that dies mid-send: the send never completes."""

    def __init__(self) -> None:
        self.sending = asyncio.Event()

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        self.sending.set()
        await asyncio.Event().wait()


class BrokerOutage:
    """The service's broker, unreachable until `end()`."""

    def __init__(self, kafka: KafkaRuntime) -> None:
        self._kafka = kafka
        self.down = True

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        if self.down:
            raise KafkaConnectionError("Unable to bootstrap from 127.0.0.1:9092")
        await self._kafka.publish(messages)

    def end(self) -> None:
        self.down = False


async def test_relay_killed_between_store_and_publish_publishes_once_after_restart(
    runtime: Runtime, settings: BookingCommandSettings
) -> None:
    app = runtime.app
    await runtime.executor.run(put_event_on_sale, app)
    mapper = OutboxMapper(app.mapper, settings.topic)
    hanging = HangingBroker()
    doomed = OutboxRelay(app, runtime.executor, mapper, hanging.publish)
    doomed.start()
    await asyncio.wait_for(hanging.sending.wait(), 10)
    await doomed.stop()  # killed after reading the stored events, before any was published
    assert await runtime.executor.run(app.outbox_position) == 0

    await runtime.start()
    await eventually(lambda: _caught_up(runtime))

    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic(topics.CATALOG_EVENTS)
    )
    ids = [dict(record.headers)["ce_id"] for record in records]
    assert len(records) == 3
    assert len(set(ids)) == len(ids)
    positions = sorted(int(dict(record.headers)["ce_position"]) for record in records)
    assert positions == sorted(positions)


async def test_writes_are_accepted_while_kafka_is_down_and_published_after(
    runtime: Runtime, settings: BookingCommandSettings
) -> None:
    app = runtime.app
    outage = BrokerOutage(await start_kafka(runtime))
    relay = OutboxRelay(
        app,
        runtime.executor,
        OutboxMapper(app.mapper, settings.topic),
        outage.publish,
        idle_poll_seconds=0.05,
        retry_max_seconds=0.2,
    )
    relay.start()
    try:
        await runtime.executor.run(put_event_on_sale, app)
        await eventually(lambda: _has_error(relay), within=20)
        assert await runtime.executor.run(app.outbox_position) == 0

        outage.end()
        await eventually(lambda: _recovered(relay, runtime))
    finally:
        await relay.stop()
    published = await published_types(settings, topics.CATALOG_EVENTS)
    # Venue and show events have different keys, so only the show's own order is defined.
    assert sorted(published) == ["event.created", "event.published", "venue.created"]
    assert published.index("event.created") < published.index("event.published")


async def _has_error(relay: OutboxRelay) -> bool:
    return relay.last_error is not None


async def _recovered(relay: OutboxRelay, runtime: Runtime) -> bool:
    # The relay records its position before it clears the error of the round that failed.
    return await _caught_up(runtime) and relay.last_error is None


async def _caught_up(runtime: Runtime) -> bool:
    app = runtime.app
    newest = await runtime.executor.run(app.recorder.max_notification_id)
    return await runtime.executor.run(app.outbox_position) == newest


async def held_booking(
    runtime: Runtime, event_id: UUID, ticket_type_id: UUID, *, card: str = "tok_visa"
) -> UUID:
    """A booking requested as the gateway asks: held by inventory, then stored."""
    booking = booking_request(event_id, ticket_type_id, quantity=2, card=card)
    result = await runtime.bus.handle(message(booking, status_code=202))
    return result.id


async def status_of(runtime: Runtime, booking_id: UUID) -> str:
    booking = await runtime.executor.run(runtime.app.repository.get, booking_id)
    return str(booking.status)


async def test_every_public_fact_reaches_kafka_for_a_consumer_that_knows_only_the_contracts(
    runtime: Runtime, settings: BookingCommandSettings
) -> None:
    """One scenario through the broker: every public event type, decoded by a consumer
    that knows only the contracts lib; the capture that confirms a booking rides in its
    confirmation (no PaymentCaptured of its own)."""
    await runtime.start()
    app = runtime.app
    venue_id, event_id, ticket_type_id = await runtime.executor.run(put_event_on_sale, app)
    run = runtime.executor.run

    await run(
        lambda: store(
            app, [commands.UpdateVenue(venue_id, name="Arena 2", capacity=1000, address="2 Road")]
        )
    )
    await run(
        lambda: store(app, [commands.ChangeEventDetails(event_id, name="Renamed", description="d")])
    )
    await run(
        lambda: store(
            app,
            [commands.AddTicketType(event_id, TicketTypeSpec("Balcony", Decimal("10"), "EUR", 50))],
        )
    )
    await run(
        lambda: store(
            app,
            [commands.RescheduleEvent(event_id, starts_at=datetime.now(UTC) + timedelta(days=40))],
        )
    )
    await run(
        lambda: store(
            app, [commands.ChangeEventSale(event_id, SaleTerms(max_tickets_per_account=8))]
        )
    )
    await run(
        lambda: store(
            app,
            [
                commands.ChangeTicketTypeSale(
                    event_id, ticket_type_id, SaleTerms(max_tickets_per_account=6)
                )
            ],
        )
    )

    confirmed_id = await held_booking(runtime, event_id, ticket_type_id)
    declined_id = await held_booking(runtime, event_id, ticket_type_id, card="tok_chargeDeclined")

    async def settled() -> bool:
        return (await status_of(runtime, confirmed_id), await status_of(runtime, declined_id)) == (
            "CONFIRMED",
            "REJECTED",
        )

    await eventually(settled)
    await run(
        lambda: store(
            app, [commands.CancelBooking(confirmed_id, caller_id="user-1", is_admin=False)]
        )
    )

    async def refunded() -> bool:
        booking: Any = await run(lambda: app.repository.get(confirmed_id))
        return bool(booking.payment_status == "refunded")

    await eventually(refunded)

    expiring_id = await run(request_booking, app, event_id, ticket_type_id)
    app.clock = lambda: datetime.now(UTC) + timedelta(seconds=settings.hold_timeout_seconds)

    async def expired() -> bool:
        return await status_of(runtime, expiring_id) == "EXPIRED"

    await eventually(expired)
    await run(lambda: store(app, [commands.CancelEvent(event_id, reason="storm")]))
    other_venue = await run(
        lambda: store(app, [commands.RegisterVenue(name="Barn", capacity=5, address="Farm")])
    )
    await run(lambda: store(app, [commands.DeleteVenue(other_venue[0].id)]))
    await eventually(lambda: _caught_up(runtime))

    booking_events = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic(topics.BOOKING_EVENTS)
    )
    catalog_events = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic(topics.CATALOG_EVENTS)
    )
    decoded = decode_with_contracts_only([*catalog_events, *booking_events])
    assert set(decoded) == {
        "venue.created",
        "venue.updated",
        "venue.deleted",
        "event.created",
        "event.details_changed",
        "event.ticket_type_added",
        "event.published",
        "event.rescheduled",
        "event.sale_changed",
        "event.ticket_type_sale_changed",
        "event.cancelled",
        "booking.requested",
        "booking.confirmed",
        "booking.rejected",
        "booking.cancelled",
        "booking.expired",
        # The cancelled booking's capture is given back.
        "booking.payment_refunded",
    }
    assert decoded["booking.confirmed"] == 1
    assert [type(e).__name__ for e in await run(lambda: list(app.events.get(confirmed_id)))] == [
        "Requested",
        "PaymentDue",
        "Confirmed",
        "Cancelled",
        "RefundDue",
        "PaymentRefunded",
    ]
    [confirmed] = [r for r in booking_events if dict(r.headers)["ce_type"] == b"booking.confirmed"]
    [requested] = [
        r
        for r in booking_events
        if dict(r.headers)["ce_type"] == b"booking.requested"
        and str(confirmed_id).encode() == dict(r.headers)["ce_subject"]
    ]
    # The confirmation follows its request's correlation id through the payment worker.
    assert dict(confirmed.headers)["correlation_id"] == dict(requested.headers)["correlation_id"]
    assert all(record.key == str(event_id).encode() for record in booking_events)


def decode_with_contracts_only(records: list[Any]) -> Counter[str]:
    """What a downstream consumer does: only ticketing_contracts, nothing of this service."""
    from ticketing_contracts.events import decode_message

    decoded: Counter[str] = Counter()
    for record in records:
        envelope, event = decode_message(record.value)
        assert dict(record.headers)["ce_id"].decode() == str(envelope.event_id)
        assert record.key == event.partition_key().encode()
        if isinstance(event, BookingConfirmed):
            assert event.total_price == Decimal("99.00")
            assert (event.provider_reference or "").startswith("pi_")
        decoded[envelope.type] += 1
    return decoded


async def test_a_round_in_flight_when_the_broker_changes_leaves_the_new_broker_everything(
    runtime: Runtime,
) -> None:
    app = runtime.app
    await runtime.executor.run(put_event_on_sale, app)

    async def publish_while_the_broker_is_replaced(messages: Sequence[OutboundMessage]) -> None:
        # The broker recovery switches the relay's stream while this round still sends.
        app.tracking_epoch = "@new-broker"

    relay = OutboxRelay(
        app,
        runtime.executor,
        OutboxMapper(app.mapper, runtime.settings.topic),
        publish_while_the_broker_is_replaced,
    )
    assert await relay.publish_pending() > 0
    assert await runtime.executor.run(app.outbox_position) == 0, (
        "the new broker's stream starts at the beginning: the republish sends everything"
    )
