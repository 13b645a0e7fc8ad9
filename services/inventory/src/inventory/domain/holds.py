"""Answers to holds asked for over HTTP, before booking-command stores the booking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from inventory.domain.bookings import BookingRecord, BookingState
from inventory.domain.outcomes import RefusalDetail, ReservationRejected

# The refusal reasons are part of the hold call's contract; reused as they are.
from ticketing_contracts.holds import HOLD_RELEASED, HoldRefusal


@dataclass(frozen=True)
class HoldGranted:
    booking_id: UUID
    expires_at: datetime | None


@dataclass(frozen=True)
class HoldRefused:
    booking_id: UUID
    reason: HoldRefusal
    detail: RefusalDetail | None = None


HoldAnswer = HoldGranted | HoldRefused


def answer_again(booking: BookingRecord) -> HoldAnswer:
    """What a booking inventory already knows is answered: its first answer, or
    `hold_released` once its hold no longer holds tickets; never a second hold."""
    if booking.state in (BookingState.RESERVED, BookingState.SOLD):
        return HoldGranted(booking.booking_id, booking.hold_expires_at)
    if booking.state is BookingState.REJECTED and booking.rejection_reason is not None:
        return HoldRefused(booking.booking_id, booking.rejection_reason)
    return HoldRefused(booking.booking_id, HOLD_RELEASED)


def refused(outcome: ReservationRejected) -> HoldRefused:
    """The answer to a hold refused in this call, with what its refusal says."""
    return HoldRefused(outcome.booking.booking_id, outcome.reason, outcome.detail)
