"""The inventory-outcome subscriber on faststream's in-memory broker and the in-memory store."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import ConsumerRecord
from eventsourcing.persistence import IntegrityError
from faststream.kafka import TestKafkaBroker
from faststream.kafka import testing as faststream_testing

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.bootstrap import kafka_runtime
from booking_command.entrypoints.subscribers import stream_name, subscribe_inventory_outcomes
from booking_command.settings import BookingCommandSettings
from service_kit.internal_auth import generate_key_pair
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.messaging import envelope_headers
from ticketing_contracts import headers as ce
from ticketing_contracts import topics
from ticketing_contracts.events import (
    PublicEvent,
    RejectionReason,
    ReservationRejected,
    TicketsReserved,
    encode_envelope,
)

from .conftest import OnSale
from .test_use_cases import book

SETTINGS = BookingCommandSettings(
    environment="test",
    internal_token_public_key=generate_key_pair()[1],
    payment_provider_secret_key="sk_test_Fz8Lq2Vw7Rb4Nc9Xt1Hy6Kd3Gm5Jp0Ta",
    consumer_retry_initial_seconds=0.001,
    consumer_retry_max_seconds=0.002,
)
TOPIC = SETTINGS.topic(topics.INVENTORY_EVENTS)


@pytest.fixture(autouse=True)
def numbered_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    """TestKafkaBroker gives every record offset 0; a real partition numbers them, and the
    saga tracks offsets to recognise messages it has already applied."""
    build_message = faststream_testing.build_message
    next_offsets: Counter[tuple[str, int]] = Counter()

    async def numbered(*args: Any, **kwargs: Any) -> ConsumerRecord[Any, Any]:
        record = await build_message(*args, **kwargs)
        if "partition" not in kwargs:  # the record of a handler's reply, not a publish
            return record
        partition = (record.topic, record.partition)
        offset, next_offsets[partition] = next_offsets[partition], next_offsets[partition] + 1
        return dataclasses.replace(record, offset=offset)

    monkeypatch.setattr(faststream_testing, "build_message", numbered)


@dataclasses.dataclass
class Service:
    runtime: KafkaRuntime
    dead_letters: list[bytes]
    payment_wake_ups: list[None]


@pytest_asyncio.fixture
async def service(app: BookingCommandApplication) -> AsyncIterator[Service]:
    executor = EventStoreExecutor(2)
    runtime = kafka_runtime(SETTINGS)
    wake_ups: list[None] = []
    subscribe_inventory_outcomes(
        runtime, SETTINGS, app, executor, on_payments_due=lambda: wake_ups.append(None)
    )
    dead_letters: list[bytes] = []

    async def raw_body(message: Any) -> bytes:
        return bytes(message.body)

    @runtime.broker.subscriber(runtime.dead_letter_topic, decoder=raw_body)
    async def collect(body: bytes) -> None:
        dead_letters.append(body)

    yield Service(runtime, dead_letters, wake_ups)
    executor.shutdown()


async def send(broker: Any, event: PublicEvent, *, correlation_id: str = "checkout-7") -> None:
    envelope = event.to_envelope(correlation_id=correlation_id, producer="inventory")
    await broker.publish(
        encode_envelope(envelope),
        TOPIC,
        key=event.partition_key().encode(),
        headers={name: value.decode() for name, value in envelope_headers(envelope)},
    )


def reserved(on_sale: OnSale, booking_id: Any) -> TicketsReserved:
    return TicketsReserved(
        booking_id=booking_id,
        event_id=on_sale.event_id,
        ticket_type_id=on_sale.ticket_type_id,
        quantity=2,
    )


async def test_tickets_reserved_makes_the_payment_due_and_wakes_the_payment_worker(
    service: Service, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = book(app, on_sale)
    async with TestKafkaBroker(service.runtime.broker) as broker:
        await send(broker, reserved(on_sale, booking_id), correlation_id="checkout-7")
    booking = app.repository.get(booking_id)
    assert (booking.status, booking.payment_status) == ("PENDING", "pending")
    due = list(app.events.get(booking_id))[-1]
    assert type(due).__name__ == "PaymentDue"
    assert getattr(due, "correlation_id", None) == "checkout-7"
    assert service.payment_wake_ups == [None]
    assert service.dead_letters == []


async def test_reservation_rejected_rejects_the_booking_with_inventory_reason(
    service: Service, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = book(app, on_sale)
    rejected = ReservationRejected(
        booking_id=booking_id,
        event_id=on_sale.event_id,
        ticket_type_id=on_sale.ticket_type_id,
        quantity=2,
        reason=RejectionReason.SOLD_OUT,
    )
    async with TestKafkaBroker(service.runtime.broker) as broker:
        await send(broker, rejected)
    booking = app.repository.get(booking_id)
    assert (booking.status, booking.rejection_reason) == ("REJECTED", "sold_out")


async def test_a_poison_message_is_dead_lettered_and_the_next_message_is_still_applied(
    service: Service, app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = book(app, on_sale)
    async with TestKafkaBroker(service.runtime.broker) as broker:
        await broker.publish(
            b"not an envelope", TOPIC, key=b"show", headers={ce.CORRELATION_ID: "poison-1"}
        )
        await send(broker, reserved(on_sale, booking_id))
    assert service.dead_letters == [b"not an envelope"]
    assert app.repository.get(booking_id).payment_status == "pending"
    stream = stream_name(TOPIC, 0)
    assert app.saga_positions([stream]) == {stream: 2}, "continues after both messages"


async def test_a_dead_lettered_last_message_still_moves_the_partition_on(
    service: Service, app: BookingCommandApplication
) -> None:
    async with TestKafkaBroker(service.runtime.broker) as broker:
        await broker.publish(b"{}", TOPIC, key=b"show")
    stream = stream_name(TOPIC, 0)
    assert service.dead_letters == [b"{}"]
    assert app.saga_positions([stream]) == {stream: 1}


async def test_a_concurrent_booking_change_is_retried_not_dead_lettered(
    service: Service,
    app: BookingCommandApplication,
    on_sale: OnSale,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    booking_id = book(app, on_sale)
    apply = app.apply_inventory_outcomes
    conflicts = [IntegrityError("booking changed concurrently")] * 5

    def conflicting(*args: Any) -> Any:
        if conflicts:
            raise conflicts.pop()
        return apply(*args)

    monkeypatch.setattr(app, "apply_inventory_outcomes", conflicting)
    async with TestKafkaBroker(service.runtime.broker) as broker:
        await send(broker, reserved(on_sale, booking_id))
    assert app.repository.get(booking_id).payment_status == "pending"
    assert service.dead_letters == []
