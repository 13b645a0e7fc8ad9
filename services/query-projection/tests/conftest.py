"""Contract events exactly as booking-command and inventory publish them."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from query_projection.application.messages import ProjectedMessage, decode_projected
from service_kit.kafka.messages import ConsumedMessage
from service_kit.messaging import envelope_headers, header_map
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingExpired,
    BookingRejected,
    BookingRequested,
    CancellationReason,
    EventCancelled,
    EventCreated,
    EventDetailsChanged,
    EventPublished,
    EventRescheduled,
    PaymentCaptured,
    PaymentRefunded,
    PublicEvent,
    RejectionReason,
    ReleaseReason,
    ReservationRejected,
    StockChanged,
    StockInitialised,
    StockLevel,
    TicketsReleased,
    TicketsReserved,
    TicketsSold,
    TicketType,
    TicketTypeAdded,
    VenueCreated,
    VenueDeleted,
    VenueUpdated,
    encode_envelope,
)
from ticketing_contracts.topics import BOOKING_EVENTS, CATALOG_EVENTS, INVENTORY_EVENTS

START = datetime(2030, 6, 1, 19, 30, tzinfo=UTC)


class Scenario:
    """Publishes like the real producers: positions and aggregate versions for catalog and
    booking events (booking-command's log), stock versions for inventory's stock facts."""

    def __init__(self) -> None:
        self.positions = itertools.count(1)
        self.versions: dict[str, int] = defaultdict(int)
        self.stock_versions: dict[tuple[UUID, UUID], int] = defaultdict(int)
        self.clock = datetime(2030, 1, 1, tzinfo=UTC)

    def _tick(self) -> datetime:
        self.clock += timedelta(milliseconds=10)
        return self.clock

    def envelope(self, event: PublicEvent) -> EventEnvelope:
        if event.TOPIC in (CATALOG_EVENTS, BOOKING_EVENTS):
            self.versions[event.subject()] += 1
            return event.to_envelope(
                correlation_id="test",
                producer="booking-command",
                occurred_at=self._tick(),
                position=next(self.positions),
                aggregate_version=self.versions[event.subject()],
            )
        return event.to_envelope(
            correlation_id="test", producer="inventory", occurred_at=self._tick()
        )

    ticket_type_ids = staticmethod(lambda created: ticket_type_ids(created))
    subject_id = staticmethod(lambda envelope: subject_id(envelope))

    # --- catalog -------------------------------------------------------------------

    def venue_created(
        self, venue_id: UUID | None = None, name: str = "Royal Hall"
    ) -> EventEnvelope:
        return self.envelope(
            VenueCreated(
                venue_id=venue_id or uuid4(), name=name, capacity=5000, address="Kensington Gore"
            )
        )

    def venue_updated(self, venue_id: UUID, name: str) -> EventEnvelope:
        return self.envelope(
            VenueUpdated(venue_id=venue_id, name=name, capacity=6000, address="New Road 1")
        )

    def venue_deleted(self, venue_id: UUID) -> EventEnvelope:
        return self.envelope(VenueDeleted(venue_id=venue_id))

    def event_created(
        self,
        venue_id: UUID,
        *,
        event_id: UUID | None = None,
        name: str = "Flash Sale Live",
        quantities: Iterable[int] = (100,),
        starts_at: datetime = START,
        description: str = "",
    ) -> EventEnvelope:
        ticket_types = tuple(
            TicketType(
                ticket_type_id=uuid4(),
                name=f"Tier {index}",
                price=Decimal("49.50"),
                currency="EUR",
                quantity=quantity,
            )
            for index, quantity in enumerate(quantities)
        )
        return self.envelope(
            EventCreated(
                event_id=event_id or uuid4(),
                venue_id=venue_id,
                name=name,
                description=description,
                starts_at=starts_at,
                ticket_types=ticket_types,
            )
        )

    def details_changed(self, event_id: UUID, name: str, description: str = "") -> EventEnvelope:
        return self.envelope(
            EventDetailsChanged(event_id=event_id, name=name, description=description)
        )

    def ticket_type_added(self, event_id: UUID, quantity: int = 50) -> EventEnvelope:
        return self.envelope(
            TicketTypeAdded(
                event_id=event_id,
                ticket_type=TicketType(
                    ticket_type_id=uuid4(),
                    name=f"Extra {uuid4().hex[:6]}",
                    price=Decimal("10.00"),
                    currency="EUR",
                    quantity=quantity,
                ),
            )
        )

    def published(self, event_id: UUID) -> EventEnvelope:
        return self.envelope(EventPublished(event_id=event_id))

    def rescheduled(self, event_id: UUID, starts_at: datetime) -> EventEnvelope:
        return self.envelope(EventRescheduled(event_id=event_id, starts_at=starts_at))

    def cancelled(self, event_id: UUID) -> EventEnvelope:
        return self.envelope(EventCancelled(event_id=event_id, reason="storm"))

    # --- bookings ------------------------------------------------------------------

    def booking_requested(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        *,
        booking_id: UUID | None = None,
        quantity: int = 2,
        owner_id: str = "user-1",
        email: str = "Zoe@Example.com",
    ) -> EventEnvelope:
        return self.envelope(
            BookingRequested(
                booking_id=booking_id or uuid4(),
                event_id=event_id,
                ticket_type_id=ticket_type_id,
                quantity=quantity,
                owner_id=owner_id,
                customer_name="Zoë O'Brien",
                customer_email=email,
                unit_price=Decimal("49.50"),
                total_price=Decimal("49.50") * quantity,
                currency="EUR",
                hold_expires_at=self.clock + timedelta(minutes=2),
            )
        )

    def booking_confirmed(
        self, requested: EventEnvelope, provider_reference: str | None = None
    ) -> EventEnvelope:
        """A confirmation; `provider_reference` None: as version 1 published it, after its
        own PaymentCaptured."""
        data = requested.data
        return self.envelope(
            BookingConfirmed(
                booking_id=data["booking_id"],
                event_id=data["event_id"],
                ticket_type_id=data["ticket_type_id"],
                quantity=data["quantity"],
                owner_id=data["owner_id"],
                customer_name=data["customer_name"],
                customer_email=data["customer_email"],
                total_price=Decimal(data["total_price"]),
                currency=data["currency"],
                provider_reference=provider_reference,
            )
        )

    def booking_rejected(
        self, requested: EventEnvelope, reason: RejectionReason = RejectionReason.SOLD_OUT
    ) -> EventEnvelope:
        return self.envelope(BookingRejected(**_ids(requested), reason=reason))

    def payment_captured(self, requested: EventEnvelope, reference: str) -> EventEnvelope:
        return self.envelope(
            PaymentCaptured(
                **_ids(requested),
                amount=Decimal(requested.data["total_price"]),
                currency=requested.data["currency"],
                provider_reference=reference,
            )
        )

    def payment_refunded(self, requested: EventEnvelope, reference: str) -> EventEnvelope:
        return self.envelope(
            PaymentRefunded(
                **_ids(requested),
                amount=Decimal(requested.data["total_price"]),
                currency=requested.data["currency"],
                provider_reference=reference,
                refund_reference="re_1",
                reason="booking_expired",
            )
        )

    def booking_cancelled(
        self, requested: EventEnvelope, reason: CancellationReason | None = None
    ) -> EventEnvelope:
        return self.envelope(
            BookingCancelled(**_ids(requested), cancelled_by="user-1", reason=reason)
        )

    def booking_expired(self, requested: EventEnvelope) -> EventEnvelope:
        return self.envelope(BookingExpired(**_ids(requested)))

    # --- inventory -----------------------------------------------------------------

    def stock_changed(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        *,
        quantity: int,
        reserved: int = 0,
        sold: int = 0,
        stock_version: int | None = None,
    ) -> EventEnvelope:
        """A ticket type's stock after one of inventory's transactions, at its next
        stock version unless `stock_version` says otherwise."""
        if stock_version is None:
            stock_version = self._next_stock_version(event_id, ticket_type_id)
        return self.envelope(
            StockChanged(
                event_id=event_id,
                ticket_type_id=ticket_type_id,
                stock=StockLevel(
                    quantity=quantity,
                    reserved=reserved,
                    sold=sold,
                    available=quantity - reserved - sold,
                ),
                stock_version=stock_version,
            )
        )

    def rejection(
        self, requested: EventEnvelope, *, quantity: int, reserved: int, sold: int
    ) -> EventEnvelope:
        """A booking inventory decided from its fact and refused (with the stock then)."""
        return self.outcome("rejected", requested, quantity=quantity, reserved=reserved, sold=sold)

    # --- inventory, as it published before inventory.stock_changed (an old log) ----

    def stock_initialised(
        self, event_id: UUID, ticket_type_id: UUID, quantity: int
    ) -> EventEnvelope:
        return self.envelope(
            StockInitialised(
                event_id=event_id,
                ticket_type_id=ticket_type_id,
                stock=StockLevel(quantity=quantity, reserved=0, sold=0, available=quantity),
                stock_version=self._next_stock_version(event_id, ticket_type_id),
            )
        )

    def _next_stock_version(self, event_id: UUID, ticket_type_id: UUID) -> int:
        self.stock_versions[(event_id, ticket_type_id)] += 1
        return self.stock_versions[(event_id, ticket_type_id)]

    def outcome(
        self,
        kind: str,
        requested: EventEnvelope,
        *,
        quantity: int,
        reserved: int,
        sold: int,
    ) -> EventEnvelope:
        data = requested.data
        event_id, ticket_type_id = UUID(data["event_id"]), UUID(data["ticket_type_id"])
        common = {
            **_ids(requested),
            "stock": StockLevel(
                quantity=quantity,
                reserved=reserved,
                sold=sold,
                available=quantity - reserved - sold,
            ),
            "stock_version": self._next_stock_version(event_id, ticket_type_id),
        }
        event: PublicEvent
        if kind == "reserved":
            event = TicketsReserved(**common)
        elif kind == "rejected":
            event = ReservationRejected(**common, reason=RejectionReason.NOT_ENOUGH_TICKETS)
        elif kind == "sold":
            event = TicketsSold(**common)
        else:
            event = TicketsReleased(**common, reason=ReleaseReason.CANCELLED)
        return self.envelope(event)


def _ids(requested: EventEnvelope) -> dict[str, object]:
    data = requested.data
    return {
        "booking_id": data["booking_id"],
        "event_id": data["event_id"],
        "ticket_type_id": data["ticket_type_id"],
        "quantity": data["quantity"],
    }


def ticket_type_ids(created: EventEnvelope) -> list[UUID]:
    return [UUID(t["ticket_type_id"]) for t in created.data["ticket_types"]]


def subject_id(envelope: EventEnvelope) -> UUID:
    assert envelope.subject is not None
    return UUID(envelope.subject)


TOPIC_BY_PREFIX = {"venue.": CATALOG_EVENTS, "event.": CATALOG_EVENTS, "booking.": BOOKING_EVENTS}


def topic_of(envelope: EventEnvelope) -> str:
    for prefix, topic in TOPIC_BY_PREFIX.items():
        if envelope.type.startswith(prefix):
            return topic
    return INVENTORY_EVENTS


def partition_key(envelope: EventEnvelope) -> str:
    data = envelope.data
    return str(data.get("event_id") or data.get("venue_id"))


class Log:
    """Assigns offsets per topic-partition as a broker would (4 partitions by key hash)."""

    topic_of = staticmethod(topic_of)
    partition_key = staticmethod(partition_key)

    def __init__(self, topic_prefix: str = "", partitions: int = 4) -> None:
        self.topic_prefix = topic_prefix
        self.partitions = partitions
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)

    def partition_of(self, key: str) -> int:
        return sum(key.encode()) % self.partitions

    def message(self, envelope: EventEnvelope) -> ProjectedMessage:
        topic = self.topic_prefix + topic_of(envelope)
        key = partition_key(envelope).encode()
        partition = self.partition_of(key.decode())
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        return ConsumedMessage(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            headers=header_map(envelope_headers(envelope)),
            body=decode_projected(encode_envelope(envelope)),
        )

    def messages(self, envelopes: Iterable[EventEnvelope]) -> list[ProjectedMessage]:
        return [self.message(envelope) for envelope in envelopes]


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


@pytest.fixture
def log_factory() -> type[Log]:
    return Log
