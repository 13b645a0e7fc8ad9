"""What the payment provider now knows about one booking's payment, for the booking to settle.

The payment worker brings each due payment to one of these ends; `Booking.settle_payment`
turns it into the booking's facts and says what is left to do (`Settlement`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


@dataclass(frozen=True)
class Captured:
    """The provider captured `amount` (minor units) of the booking's payment."""

    booking_id: UUID
    correlation_id: str
    reference: str
    amount: int
    currency: str


@dataclass(frozen=True)
class CapturedAndRefunded:
    """A booking that ended meanwhile was found captured; the capture was refunded."""

    booking_id: UUID
    correlation_id: str
    captured: Captured
    refund_reference: str
    reason: str


@dataclass(frozen=True)
class Refunded:
    """The recorded capture was refunded in full."""

    booking_id: UUID
    correlation_id: str
    refund_reference: str
    reason: str


@dataclass(frozen=True)
class Declined:
    """The card was declined (or the provider refused the charge)."""

    booking_id: UUID
    correlation_id: str


@dataclass(frozen=True)
class NothingCharged:
    """Nothing is (or stays) charged for a booking that ended another way."""

    booking_id: UUID
    correlation_id: str


PaymentResult = Captured | CapturedAndRefunded | Refunded | Declined | NothingCharged


class Settlement(StrEnum):
    """What settling a payment result did to the booking, and what is left to do."""

    CONFIRMED = "confirmed"
    DECLINED = "declined"
    REFUNDED = "refunded"
    # Captured but not confirmable (the booking ended meanwhile): refund it next.
    TO_REFUND = "to_refund"
    # Nothing stays charged and no fact records it: the payment is no longer due.
    NOTHING_DUE = "nothing_due"
    UNCHANGED = "unchanged"
