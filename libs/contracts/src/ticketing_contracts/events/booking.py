"""Public booking lifecycle events on `ticketing.booking.v1`, keyed by the show id.

PENDING (requested) ends CONFIRMED, REJECTED or EXPIRED; CONFIRMED may become CANCELLED
(by its owner, an admin, or its event's cancellation: `reason` event_cancelled).
Once inventory holds the tickets, the booking's total is charged: the capture that
confirms a booking travels in its BookingConfirmed (version 2, `provider_reference`); a
capture that cannot confirm it (the booking ended first) is a PaymentCaptured followed by
PaymentRefunded. Before version 2 every capture was a PaymentCaptured of its own, followed
by a BookingConfirmed without the reference.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from ticketing_contracts.events.base import PublicEvent, register
from ticketing_contracts.fields import (
    Currency,
    Identifier,
    Money,
    PersonName,
    ProviderReference,
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
    """The event is not published (a draft): nothing of it is on sale."""
    NOT_ON_SALE = "not_on_sale"
    """Published, but outside the ticket type's sale window (not started, or over)."""
    PURCHASE_LIMIT_REACHED = "purchase_limit_reached"
    """The booking would take the account past the event's or the ticket type's limit."""
    PAYMENT_DECLINED = "payment_declined"
    SALES_CLOSED = "sales_closed"
    """The organiser closed the ticket type's sales (they may reopen them)."""
    OFFER_NOT_VALID = "offer_not_valid"
    """The waitlist offer named is not this account's, has expired, was declined or used, or
    is for other tickets."""


class CancellationReason(StrEnum):
    """Why a confirmed booking was cancelled when not by its owner or an admin."""

    EVENT_CANCELLED = "event_cancelled"


class PaymentStatus(StrEnum):
    """Where a booking's payment stands, as the read model shows it."""

    PENDING = "pending"
    CAPTURED = "captured"
    REFUNDED = "refunded"
    DECLINED = "declined"


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
    """The booking's payment was captured: its tickets are sold. Version 2 added
    `provider_reference`, the captured payment; a version-1 confirmation has none (None),
    its capture was the PaymentCaptured before it."""

    TYPE: ClassVar[str] = "booking.confirmed"
    VERSION: ClassVar[int] = 2
    owner_id: Identifier
    customer_name: PersonName
    customer_email: PublishedEmail
    total_price: Money
    currency: Currency
    provider_reference: ProviderReference | None

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> None:
        data["provider_reference"] = None


@register
class BookingRejected(_BookingEvent):
    TYPE: ClassVar[str] = "booking.rejected"
    VERSION: ClassVar[int] = 1
    reason: RejectionReason


@register
class BookingCancelled(_BookingEvent):
    """A confirmed booking was cancelled: its tickets go back on sale, its payment is refunded.

    PaymentRefunded follows for a captured payment.
    `reason` (optional, added compatibly to version 1): absent or null when its owner or an
    admin cancelled the booking; `event_cancelled` when its event was cancelled, and then
    `cancelled_by` is the admin who cancelled the event. A pending booking of a cancelled
    event ends as BookingRejected with reason `event_cancelled`.
    """

    TYPE: ClassVar[str] = "booking.cancelled"
    VERSION: ClassVar[int] = 1
    cancelled_by: Identifier
    reason: CancellationReason | None = None


@register
class BookingExpired(_BookingEvent):
    """A pending hold was not resolved in time; any tickets reserved for it are released."""

    TYPE: ClassVar[str] = "booking.expired"
    VERSION: ClassVar[int] = 1


@register
class PaymentCaptured(_BookingEvent):
    """The booking's total was charged (authorised and captured) at the payment provider."""

    TYPE: ClassVar[str] = "booking.payment_captured"
    VERSION: ClassVar[int] = 1
    amount: Money
    currency: Currency
    provider_reference: ProviderReference


@register
class PaymentRefunded(_BookingEvent):
    """A captured payment was given back: the booking could not be confirmed after all (its
    hold expired first), or it was cancelled."""

    TYPE: ClassVar[str] = "booking.payment_refunded"
    VERSION: ClassVar[int] = 1
    amount: Money
    currency: Currency
    provider_reference: ProviderReference
    refund_reference: ProviderReference
    reason: Identifier
