"""Tickets from booking facts: how many, with which codes, and when they stop counting."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    CancellationReason,
    PaymentRefunded,
    PublicEvent,
)
from ticketing_contracts.tickets import CODE_LENGTH, TicketStatus, VoidReason

CODE_BYTES = CODE_LENGTH * 5 // 8


def new_code() -> str:
    """120 random bits as 24 base32 characters (A-Z, 2-7): no padding, nothing ambiguous
    to type at the door."""
    return base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii")


@dataclass(frozen=True)
class NewTicket:
    ticket_id: UUID
    booking_id: UUID
    position_in_booking: int
    event_id: UUID
    ticket_type_id: UUID
    holder_name: str
    code: str
    status: TicketStatus
    voided_reason: VoidReason | None


def tickets_for(
    confirmed: BookingConfirmed,
    *,
    event_cancelled: bool = False,
    code: Callable[[], str] = new_code,
) -> list[NewTicket]:
    """One ticket per booked seat, for the name on the booking. The store keys them by
    (booking, position), so a redelivered fact mints nothing new. Tickets of an event
    already cancelled are born voided."""
    return [
        NewTicket(
            ticket_id=uuid4(),
            booking_id=confirmed.booking_id,
            position_in_booking=position,
            event_id=confirmed.event_id,
            ticket_type_id=confirmed.ticket_type_id,
            holder_name=confirmed.customer_name,
            code=code(),
            status="voided" if event_cancelled else "valid",
            voided_reason="event_cancelled" if event_cancelled else None,
        )
        for position in range(confirmed.quantity)
    ]


def void_reason_for(fact: PublicEvent) -> VoidReason | None:
    """Why a booking fact voids the booking's tickets (None: it does not)."""
    match fact:
        case BookingCancelled(reason=CancellationReason.EVENT_CANCELLED):
            return "event_cancelled"
        case BookingCancelled():
            return "booking_cancelled"
        case PaymentRefunded():
            return "payment_refunded"
    return None
