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
    BookingExpired,
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
    TicketTypeChanged,
)
from ticketing_contracts.events.inventory import OfferEnd, WaitlistOfferEnded, WaitlistOfferMade


class NoticeKind(StrEnum):
    CONFIRMATION = "confirmation"
    CANCELLATION = "cancellation"
    EVENT_CANCELLATION = "event_cancellation"
    REFUND = "refund"
    HOLD_EXPIRED = "hold_expired"
    WAITLIST_OFFER = "waitlist_offer"
    WAITLIST_OFFER_EXPIRED = "waitlist_offer_expired"


@dataclass(frozen=True)
class Notice:
    """One mail to send, keyed by the fact that caused it (`fact_id`, its envelope id).

    About a booking (its customer remembered from the booking's facts) or about a waitlist
    offer (its fan remembered from `inventory.waitlist_offer_made`): exactly one of
    `booking_id` and `offer_id`."""

    fact_id: UUID
    kind: NoticeKind
    booking_id: UUID | None
    occurred_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    offer_id: UUID | None = None


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
class WaitlistOffer:
    """What `inventory.waitlist_offer_made` says about an offer and the fan it is for (the
    offer's end does not repeat it)."""

    offer_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    name: str
    email: str
    expires_at: datetime


@dataclass(frozen=True)
class EventDetails:
    event_id: UUID
    name: str | None = None
    starts_at: datetime | None = None
    ticket_types: dict[UUID, str] = field(default_factory=dict)


def notice_for(fact_id: UUID, occurred_at: datetime, fact: PublicEvent) -> Notice | None:
    """The notice a booking or waitlist fact makes, if any.

    `event.cancelled` makes none itself: booking-command cancels each confirmed booking
    of the event with reason `event_cancelled`, and those per-booking facts are the event
    cancellation mails (one per booking, naming its tickets and refund). Of an offer's
    ends only the expiry is mailed: the fan declined, left or booked it themselves, and a
    cancelled event or ticket type has its own mails."""
    match fact:
        case BookingExpired():
            return Notice(fact_id, NoticeKind.HOLD_EXPIRED, fact.booking_id, occurred_at)
        case WaitlistOfferMade():
            return Notice(
                fact_id, NoticeKind.WAITLIST_OFFER, None, occurred_at, offer_id=fact.offer_id
            )
        case WaitlistOfferEnded(outcome=OfferEnd.EXPIRED):
            return Notice(
                fact_id,
                NoticeKind.WAITLIST_OFFER_EXPIRED,
                None,
                occurred_at,
                offer_id=fact.offer_id,
            )
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


def offer_from(fact: PublicEvent) -> WaitlistOffer | None:
    """`inventory.waitlist_offer_made` names the fan and the offer's tickets and deadline."""
    if isinstance(fact, WaitlistOfferMade):
        return WaitlistOffer(
            offer_id=fact.offer_id,
            event_id=fact.event_id,
            ticket_type_id=fact.ticket_type_id,
            quantity=fact.quantity,
            name=fact.customer_name,
            email=fact.customer_email,
            expires_at=fact.expires_at,
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
        case TicketTypeChanged():
            return EventDetails(fact.event_id, ticket_types={fact.ticket_type_id: fact.name})
        case EventCancelled():
            return None
    return None


def minutes_between(now: datetime, until: datetime) -> int:
    """Whole minutes left until `until`, rounded down, never below zero (an offer mailed
    late says 0 minutes rather than a negative time)."""
    return max(0, int((until - now).total_seconds() // 60))
