"""Maps stored aggregate events to the public contract; internal classes never leave here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent, Snapshot
from eventsourcing.persistence import Mapper, Notification, StoredEvent

from booking_command.domain.booking import Booking
from booking_command.domain.catalog_event import Event
from booking_command.domain.correlated import Correlated
from booking_command.domain.venue import Venue
from service_kit.kafka.messages import OutboundMessage
from service_kit.messaging import envelope_headers
from service_kit.tracing import TRACEPARENT_HEADER
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
    EventSaleChanged,
    PaymentCaptured,
    PaymentRefunded,
    PublicEvent,
    RejectionReason,
    TicketType,
    TicketTypeAdded,
    TicketTypeSaleChanged,
    VenueCreated,
    VenueDeleted,
    VenueUpdated,
    encode_envelope,
)
from ticketing_contracts.events.catalog import TicketTypeChanged, TicketTypeRemoved

PRODUCER = "booking-command"
# Namespace of the public event ids: one stored event always gets the same id, so a
# re-publish after a crash carries the id consumers deduplicate on.
EVENT_ID_NAMESPACE = UUID("6f0a3c52-5d0e-4c1b-9a55-2b8f3f1f7d10")


@dataclass(frozen=True)
class OutboxMessage(OutboundMessage):
    """A Kafka message for the runtime to publish, with the envelope it carries."""

    envelope: EventEnvelope


def public_event_id(
    originator_id: UUID, originator_version: int, recorded_at: datetime | None
) -> UUID:
    """The id of a stored event: its aggregate, its version and when it was recorded.

    A store restored from a backup records new events at versions the lost ones had, but
    later: they get new ids, so consumers that saw the lost ones apply them. The same record
    always gets the same id (its time is stored with it), so a republish is a duplicate.
    `recorded_at` None: the id of a record stored before ids named their time, as it was
    published then.
    """
    if recorded_at is None:
        return uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator_id}:{originator_version}")
    recorded = recorded_at.astimezone(UTC).isoformat()
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator_id}:{originator_version}:{recorded}")


def _ticket_type(record: dict[str, Any]) -> TicketType:
    # A record stored before sale terms has none of their keys.
    return TicketType.model_validate(
        {
            "ticket_type_id": record["ticket_type_id"],
            "name": record["name"],
            "price": record["price"],
            "currency": record["currency"],
            "quantity": record["quantity"],
            "sale_starts_at": record.get("sale_starts_at"),
            "sale_ends_at": record.get("sale_ends_at"),
            "max_tickets_per_account": record.get("max_tickets_per_account"),
        }
    )


def _sale_terms(stored: Any) -> dict[str, Any]:
    return {
        "sale_starts_at": stored.sale_starts_at,
        "sale_ends_at": stored.sale_ends_at,
        "max_tickets_per_account": stored.max_tickets_per_account,
    }


def _booking_facts(stored: Any) -> dict[str, Any]:
    return {
        "booking_id": stored.originator_id,
        "event_id": stored.event_id,
        "ticket_type_id": stored.ticket_type_id,
        "quantity": stored.quantity,
    }


_MAPPINGS: dict[type[object], Callable[[Any], PublicEvent]] = {
    Venue.Registered: lambda e: VenueCreated(
        venue_id=e.originator_id, name=e.name, capacity=e.capacity, address=e.address
    ),
    Venue.Updated: lambda e: VenueUpdated(
        venue_id=e.originator_id, name=e.name, capacity=e.capacity, address=e.address
    ),
    Venue.Deleted: lambda e: VenueDeleted(venue_id=e.originator_id),
    Event.Created: lambda e: EventCreated(
        event_id=e.originator_id,
        venue_id=e.venue_id,
        name=e.name,
        description=e.description,
        starts_at=e.starts_at,
        ticket_types=tuple(_ticket_type(record) for record in e.ticket_types),
        **_sale_terms(e),
    ),
    Event.DetailsChanged: lambda e: EventDetailsChanged(
        event_id=e.originator_id, name=e.name, description=e.description
    ),
    Event.TicketTypeAdded: lambda e: TicketTypeAdded(
        event_id=e.originator_id, ticket_type=_ticket_type(e.ticket_type)
    ),
    Event.SaleChanged: lambda e: EventSaleChanged(
        event_id=e.originator_id,
        **_sale_terms(e),
        hold_minutes=e.hold_minutes,
        waitlist_offer_minutes=e.waitlist_offer_minutes,
    ),
    Event.TicketTypeSaleChanged: lambda e: TicketTypeSaleChanged(
        event_id=e.originator_id, ticket_type_id=e.ticket_type_id, **_sale_terms(e)
    ),
    Event.TicketTypeChanged: lambda e: TicketTypeChanged(
        event_id=e.originator_id,
        ticket_type_id=e.ticket_type_id,
        name=e.name,
        price=e.price,
        currency=e.currency,
        quantity=e.quantity,
        sales_closed=e.sales_closed,
    ),
    Event.TicketTypeRemoved: lambda e: TicketTypeRemoved(
        event_id=e.originator_id, ticket_type_id=e.ticket_type_id
    ),
    Event.Published: lambda e: EventPublished(event_id=e.originator_id),
    Event.Rescheduled: lambda e: EventRescheduled(event_id=e.originator_id, starts_at=e.starts_at),
    Event.Cancelled: lambda e: EventCancelled(event_id=e.originator_id, reason=e.reason),
    Booking.Requested: lambda e: BookingRequested(
        **_booking_facts(e),
        owner_id=e.owner_id,
        customer_name=e.customer_name,
        customer_email=e.customer_email,
        unit_price=e.unit_price,
        total_price=e.unit_price * e.quantity,
        currency=e.currency,
        hold_expires_at=e.hold_expires_at,
    ),
    Booking.Confirmed: lambda e: BookingConfirmed(
        **_booking_facts(e),
        owner_id=e.owner_id,
        customer_name=e.customer_name,
        customer_email=e.customer_email,
        total_price=e.total_price,
        currency=e.currency,
        provider_reference=e.payment_reference,
    ),
    Booking.Rejected: lambda e: BookingRejected(
        **_booking_facts(e), reason=RejectionReason(e.reason)
    ),
    Booking.Cancelled: lambda e: BookingCancelled(
        **_booking_facts(e),
        cancelled_by=e.cancelled_by,
        reason=CancellationReason(e.reason) if e.reason is not None else None,
    ),
    Booking.Expired: lambda e: BookingExpired(**_booking_facts(e)),
    Booking.PaymentCaptured: lambda e: PaymentCaptured(
        **_booking_facts(e),
        amount=e.amount,
        currency=e.currency,
        provider_reference=e.reference,
    ),
    Booking.PaymentRefunded: lambda e: PaymentRefunded(
        **_booking_facts(e),
        amount=e.amount,
        currency=e.currency,
        provider_reference=e.reference,
        refund_reference=e.refund_reference,
        reason=e.reason,
    ),
}

# Kept inside the write side: the venue's own index of the shows it hosts, and the
# payment or refund falling due (their outcomes are published: PaymentCaptured,
# BookingRejected, PaymentRefunded).
INTERNAL_ONLY: tuple[type[object], ...] = (
    Venue.ShowScheduled,
    Venue.ShowRemoved,
    Snapshot,
    Booking.PaymentDue,
    Booking.RefundDue,
)


def is_published(stored: object) -> bool:
    """Whether a stored aggregate event reaches Kafka (and so the read models)."""
    return not isinstance(stored, INTERNAL_ONLY)


def to_public_event(stored: object) -> PublicEvent | None:
    """The public event for a stored aggregate event, or None for internal-only events."""
    mapping = _MAPPINGS.get(type(stored))
    if mapping is None:
        if isinstance(stored, INTERNAL_ONLY):
            return None
        raise LookupError(f"no public mapping for {type(stored).__qualname__}")
    return mapping(stored)


class OutboxMapper:
    """Turns notifications from the event store into Kafka messages in the public schema.

    `timed_ids_from`: the first notification whose id names when it was recorded (the
    store's own record of it); those before keep the ids they were published with."""

    def __init__(
        self, mapper: Mapper[UUID], topic_name: Callable[[str], str], timed_ids_from: int = 1
    ) -> None:
        self._mapper = mapper
        self._topic_name = topic_name
        self._timed_ids_from = timed_ids_from

    def envelope_for(self, stored: DomainEvent, position: int) -> EventEnvelope | None:
        """The public envelope of a stored aggregate event at `position` in the log (its
        notification id), or None for internal-only events."""
        public = to_public_event(stored)
        if public is None:
            return None
        timed = position >= self._timed_ids_from
        return public.to_envelope(
            correlation_id=(stored.correlation_id if isinstance(stored, Correlated) else None)
            or f"{PRODUCER}:{position}",
            producer=PRODUCER,
            event_id=public_event_id(
                UUID(str(stored.originator_id)),
                stored.originator_version,
                stored.timestamp if timed else None,
            ),
            occurred_at=stored.timestamp,
            position=position,
            aggregate_version=stored.originator_version,
        )

    def domain_event(self, stored: StoredEvent) -> DomainEvent:
        event = self._mapper.to_domain_event(stored)
        assert isinstance(event, DomainEvent), type(event)
        return event

    def message_for(self, notification: Notification) -> OutboxMessage | None:
        stored = self.domain_event(notification)
        envelope = self.envelope_for(stored, notification.id)
        if envelope is None:
            return None
        public = to_public_event(stored)
        assert public is not None
        headers = envelope_headers(envelope)
        if isinstance(stored, Correlated) and stored.traceparent is not None:
            headers.append((TRACEPARENT_HEADER, stored.traceparent.encode()))
        return OutboxMessage(
            topic=self._topic_name(public.TOPIC),
            key=public.partition_key().encode(),
            value=encode_envelope(envelope),
            headers=headers,
            envelope=envelope,
        )
