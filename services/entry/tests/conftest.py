"""Catalog and booking facts as booking-command publishes them, and a log that gives them
offsets per topic-partition as a broker would."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from entry.application.messages import FactBatch, FactMessage, decode_fact
from service_kit.kafka.messages import ConsumedMessage, PartitionBatch
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    CancellationReason,
    EventCancelled,
    EventCreated,
    EventDetailsChanged,
    PaymentRefunded,
    PublicEvent,
    TicketType,
    TicketTypeAdded,
    encode_envelope,
)
from ticketing_contracts.topics import BOOKING_EVENTS, CATALOG_EVENTS

STARTS_AT = datetime(2030, 6, 1, 19, 30, tzinfo=UTC)


class Facts:
    """Builds facts with positions and aggregate versions, as booking-command does."""

    def __init__(self) -> None:
        self.positions = itertools.count(1)
        self.versions: dict[str, int] = defaultdict(int)
        self.clock = datetime(2030, 1, 1, tzinfo=UTC)

    def envelope(self, fact: PublicEvent) -> EventEnvelope:
        self.versions[fact.subject()] += 1
        self.clock += timedelta(milliseconds=10)
        return fact.to_envelope(
            correlation_id="test",
            producer="booking-command",
            occurred_at=self.clock,
            position=next(self.positions),
            aggregate_version=self.versions[fact.subject()],
        )

    def event_created(
        self, *, name: str = "Harbour Lights", ticket_types: Iterable[str] = ("Standing",)
    ) -> EventEnvelope:
        return self.envelope(
            EventCreated(
                event_id=uuid4(),
                venue_id=uuid4(),
                name=name,
                starts_at=STARTS_AT,
                ticket_types=tuple(
                    TicketType(
                        ticket_type_id=uuid4(),
                        name=type_name,
                        price=Decimal("40.00"),
                        currency="EUR",
                        quantity=500,
                    )
                    for type_name in ticket_types
                ),
            )
        )

    def ticket_type_added(self, event_id: UUID, name: str) -> EventEnvelope:
        return self.envelope(
            TicketTypeAdded(
                event_id=event_id,
                ticket_type=TicketType(
                    ticket_type_id=uuid4(),
                    name=name,
                    price=Decimal("90.00"),
                    currency="EUR",
                    quantity=50,
                ),
            )
        )

    def renamed(self, event_id: UUID, name: str) -> EventEnvelope:
        return self.envelope(EventDetailsChanged(event_id=event_id, name=name))

    def event_cancelled(self, event_id: UUID) -> EventEnvelope:
        return self.envelope(EventCancelled(event_id=event_id, reason="storm"))

    def confirmed(
        self,
        event: EventEnvelope,
        *,
        quantity: int = 2,
        owner_id: str = "fan-1",
        holder: str = "Zoë O'Brien",
        ticket_type_id: UUID | None = None,
    ) -> EventEnvelope:
        event_id = UUID(event.data["event_id"])
        return self.envelope(
            BookingConfirmed(
                booking_id=uuid4(),
                event_id=event_id,
                ticket_type_id=ticket_type_id or first_ticket_type(event),
                quantity=quantity,
                owner_id=owner_id,
                customer_name=holder,
                customer_email="zoe@example.com",
                total_price=Decimal("40.00") * quantity,
                currency="EUR",
                provider_reference="pi_1",
            )
        )

    def cancelled(
        self, confirmed: EventEnvelope, reason: CancellationReason | None = None
    ) -> EventEnvelope:
        return self.envelope(
            BookingCancelled(**_booking_ids(confirmed), cancelled_by="fan-1", reason=reason)
        )

    def refunded(self, confirmed: EventEnvelope) -> EventEnvelope:
        return self.envelope(
            PaymentRefunded(
                **_booking_ids(confirmed),
                amount=Decimal(confirmed.data["total_price"]),
                currency="EUR",
                provider_reference="pi_1",
                refund_reference="re_1",
                reason="requested_by_customer",
            )
        )


def _booking_ids(confirmed: EventEnvelope) -> dict[str, object]:
    data = confirmed.data
    return {key: data[key] for key in ("booking_id", "event_id", "ticket_type_id", "quantity")}


def first_ticket_type(event: EventEnvelope) -> UUID:
    return UUID(event.data["ticket_types"][0]["ticket_type_id"])


def event_id_of(envelope: EventEnvelope) -> UUID:
    return UUID(envelope.data["event_id"])


def booking_id_of(envelope: EventEnvelope) -> UUID:
    return UUID(envelope.data["booking_id"])


class Log:
    """Offsets per topic-partition as a broker assigns them (partitioned by event id)."""

    def __init__(self, topic_prefix: str = "", partitions: int = 3) -> None:
        self.topic_prefix = topic_prefix
        self.partitions = partitions
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)

    @staticmethod
    def topic_of(envelope: EventEnvelope) -> str:
        return BOOKING_EVENTS if envelope.type.startswith("booking.") else CATALOG_EVENTS

    @staticmethod
    def key_of(envelope: EventEnvelope) -> bytes:
        return str(envelope.data["event_id"]).encode()

    def message(self, envelope: EventEnvelope) -> FactMessage:
        topic = self.topic_prefix + self.topic_of(envelope)
        partition = sum(self.key_of(envelope)) % self.partitions
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        return ConsumedMessage(
            topic=topic,
            partition=partition,
            offset=offset,
            key=self.key_of(envelope),
            headers={},
            body=decode_fact(encode_envelope(envelope)),
        )

    def batches(self, envelopes: Iterable[EventEnvelope]) -> list[FactBatch]:
        """One batch per partition, as the runtime hands them over."""
        by_partition: dict[tuple[str, int], list[FactMessage]] = defaultdict(list)
        for envelope in envelopes:
            message = self.message(envelope)
            by_partition[(message.topic, message.partition)].append(message)
        return [
            PartitionBatch(topic, partition, messages, messages[-1].offset + 1, continues_from=None)
            for (topic, partition), messages in by_partition.items()
        ]


@pytest.fixture
def facts() -> Facts:
    return Facts()


@pytest.fixture
def log_factory() -> type[Log]:
    return Log
