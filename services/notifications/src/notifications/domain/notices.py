"""Which fact makes which notice, and what the service remembers to write them.

Pure rules: the subscriber hands facts in, the use case stores what comes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from ticketing_contracts.events.base import PublicEvent
from ticketing_contracts.events.booking import (
    BookingCancelled,
    BookingConfirmed,
    BookingRequested,
    CancellationReason,
    PaymentRefunded,
)
from ticketing_contracts.events.catalog import (
    EventCancelled,
    EventCreated,
    EventDetailsChanged,
    EventRescheduled,
    TicketTypeAdded,
)


class NoticeKind(StrEnum):
    CONFIRMATION = "confirmation"
    CANCELLATION = "cancellation"
    EVENT_CANCELLATION = "event_cancellation"
    REFUND = "refund"


@dataclass(frozen=True)
class Notice:
    """One mail to send, keyed by the fact that caused it (`fact_id`, its envelope id)."""

    fact_id: UUID
    kind: NoticeKind
    booking_id: UUID
    occurred_at: datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Customer:
    """What a booking's first facts say about who to write to."""

    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    name: str
    email: str
    total_price: Decimal
    currency: str


@dataclass(frozen=True)
class EventDetails:
    event_id: UUID
    name: str | None = None
    starts_at: datetime | None = None
    ticket_types: dict[UUID, str] = field(default_factory=dict)


def notice_for(fact_id: UUID, occurred_at: datetime, fact: PublicEvent) -> Notice | None:
    """The notice a booking fact makes, if any.

    `event.cancelled` makes none itself: booking-command cancels each confirmed booking
    of the event with reason `event_cancelled`, and those per-booking facts are the event
    cancellation mails (one per booking, naming its tickets and refund)."""
    match fact:
        case BookingConfirmed():
            return Notice(fact_id, NoticeKind.CONFIRMATION, fact.booking_id, occurred_at)
        case BookingCancelled(reason=CancellationReason.EVENT_CANCELLED):
            return Notice(fact_id, NoticeKind.EVENT_CANCELLATION, fact.booking_id, occurred_at)
        case BookingCancelled():
            return Notice(fact_id, NoticeKind.CANCELLATION, fact.booking_id, occurred_at)
        case PaymentRefunded():
            return Notice(
                fact_id,
                NoticeKind.REFUND,
                fact.booking_id,
                occurred_at,
                {"amount": str(fact.amount), "currency": fact.currency, "reason": fact.reason},
            )
    return None


def customer_from(fact: PublicEvent) -> Customer | None:
    """`booking.requested` and `booking.confirmed` name the customer; later facts do not."""
    if isinstance(fact, BookingRequested | BookingConfirmed):
        return Customer(
            booking_id=fact.booking_id,
            event_id=fact.event_id,
            ticket_type_id=fact.ticket_type_id,
            quantity=fact.quantity,
            name=fact.customer_name,
            email=fact.customer_email,
            total_price=fact.total_price,
            currency=fact.currency,
        )
    return None


def event_details_from(fact: PublicEvent) -> EventDetails | None:
    """What a catalog fact says about an event's name, start and ticket types (None: nothing
    the mails use). Fields left None or empty are unchanged by it."""
    match fact:
        case EventCreated():
            return EventDetails(
                fact.event_id,
                fact.name,
                fact.starts_at,
                {t.ticket_type_id: t.name for t in fact.ticket_types},
            )
        case EventDetailsChanged():
            return EventDetails(fact.event_id, name=fact.name)
        case EventRescheduled():
            return EventDetails(fact.event_id, starts_at=fact.starts_at)
        case TicketTypeAdded():
            return EventDetails(
                fact.event_id, ticket_types={fact.ticket_type.ticket_type_id: fact.ticket_type.name}
            )
        case EventCancelled():
            return None
    return None
