"""Public booking lifecycle events on `ticketing.booking.v1`, keyed by the show id.

PENDING (requested) ends CONFIRMED, REJECTED or EXPIRED; CONFIRMED may become CANCELLED.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from ticketing_contracts.events.base import PublicEvent, register
from ticketing_contracts.fields import (
    Currency,
    Identifier,
    Money,
    PersonName,
    PublishedEmail,
    TicketQuantity,
    Timestamp,
)
from ticketing_contracts.topics import BOOKING_EVENTS


class BookingStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


# A settled booking is no longer waiting for inventory: clients stop polling here.
SETTLED_STATUSES = frozenset(
    {
        BookingStatus.CONFIRMED,
        BookingStatus.REJECTED,
        BookingStatus.CANCELLED,
        BookingStatus.EXPIRED,
    }
)


class RejectionReason(StrEnum):
    SOLD_OUT = "sold_out"
    NOT_ENOUGH_TICKETS = "not_enough_tickets"
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_TICKET_TYPE = "unknown_ticket_type"
    EVENT_CANCELLED = "event_cancelled"
    EVENT_NOT_ON_SALE = "event_not_on_sale"


class _BookingEvent(PublicEvent):
    TOPIC: ClassVar[str] = BOOKING_EVENTS
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity

    def subject(self) -> str:
        return str(self.booking_id)


@register
class BookingRequested(_BookingEvent):
    TYPE: ClassVar[str] = "booking.requested"
    VERSION: ClassVar[int] = 1
    owner_id: Identifier
    customer_name: PersonName
    customer_email: PublishedEmail
    unit_price: Money
    total_price: Money
    currency: Currency
    hold_expires_at: Timestamp


@register
class BookingConfirmed(_BookingEvent):
    TYPE: ClassVar[str] = "booking.confirmed"
    VERSION: ClassVar[int] = 1
    owner_id: Identifier
    customer_name: PersonName
    customer_email: PublishedEmail
    total_price: Money
    currency: Currency


@register
class BookingRejected(_BookingEvent):
    TYPE: ClassVar[str] = "booking.rejected"
    VERSION: ClassVar[int] = 1
    reason: RejectionReason


@register
class BookingCancelled(_BookingEvent):
    """A confirmed booking was cancelled; its tickets go back on sale."""

    TYPE: ClassVar[str] = "booking.cancelled"
    VERSION: ClassVar[int] = 1
    cancelled_by: Identifier


@register
class BookingExpired(_BookingEvent):
    """A pending hold was not resolved in time; any tickets reserved for it are released."""

    TYPE: ClassVar[str] = "booking.expired"
    VERSION: ClassVar[int] = 1
