"""A customer's request for tickets and its lifecycle.

PENDING ends CONFIRMED, REJECTED or EXPIRED; CONFIRMED may become CANCELLED. Once
inventory holds the tickets a payment of the total is due; a PENDING booking is
confirmed by its payment's capture (one fact), and rejected (`payment_declined`) when the
card is declined. A capture that lands after the booking ended otherwise is refunded, and
so is the capture of a cancelled booking (its refund falls due with the cancellation).
When its event is cancelled, a CONFIRMED booking is CANCELLED (`event_cancelled`) and a
PENDING one REJECTED (`event_cancelled`), as a booking requested after the cancellation is:
it never held tickets for sure, so it ends the way every unconfirmed booking ends.
The events carry the booking's facts so the outbox can publish them without state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from booking_command.domain import rules
from booking_command.domain.catalog_event import Event
from booking_command.domain.correlated import Correlated
from booking_command.domain.payment import (
    Captured,
    CapturedAndRefunded,
    Declined,
    NothingCharged,
    PaymentResult,
    Refunded,
    Settlement,
)
from service_kit.errors import ConflictError, InvalidInputError


class BookingStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class RejectionReason(StrEnum):
    SOLD_OUT = "sold_out"
    NOT_ENOUGH_TICKETS = "not_enough_tickets"
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_TICKET_TYPE = "unknown_ticket_type"
    EVENT_CANCELLED = "event_cancelled"
    EVENT_NOT_ON_SALE = "event_not_on_sale"
    PAYMENT_DECLINED = "payment_declined"


class CancellationReason(StrEnum):
    """Why a CONFIRMED booking was cancelled; None: its owner or an admin cancelled it."""

    EVENT_CANCELLED = "event_cancelled"


EXPIRED_REFUND_REASON = "booking_expired"
CANCELLED_REFUND_REASON = "booking_cancelled"


class PaymentStatus(StrEnum):
    DUE = "pending"
    CAPTURED = "captured"
    REFUNDED = "refunded"
    DECLINED = "declined"


def minor_units(amount: Decimal) -> int:
    """An amount in the currency's minor unit (cents), as payment providers take it."""
    return int((amount * 100).to_integral_exact())


class Booking(Aggregate):
    class Requested(Correlated, Aggregate.Created):
        """Version 2 added `currency`; every version-1 booking was priced in euros.
        Version 3 added `payment_token`; earlier bookings carry none ("")."""

        class_version = 3

        event_id: UUID
        ticket_type_id: UUID
        quantity: int
        customer_name: str
        customer_email: str
        owner_id: str
        unit_price: Decimal
        currency: str
        hold_expires_at: datetime
        payment_token: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["currency"] = "EUR"

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["payment_token"] = ""

    @event(Requested)
    def __init__(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        quantity: int,
        customer_name: str,
        customer_email: str,
        owner_id: str,
        unit_price: Decimal,
        currency: str,
        hold_expires_at: datetime,
        payment_token: str,
    ) -> None:
        self.event_id = event_id
        self.ticket_type_id = ticket_type_id
        self.quantity = quantity
        self.customer_name = customer_name
        self.customer_email = customer_email
        self.owner_id = owner_id
        self.unit_price = unit_price
        self.currency = currency
        self.hold_expires_at = hold_expires_at
        self.payment_token = payment_token
        self.status = BookingStatus.PENDING.value
        self.rejection_reason: str | None = None
        self.cancelled_by: str | None = None
        self.cancellation_reason: str | None = None
        self.payment_status: str | None = None
        self.payment_reference: str | None = None

    @classmethod
    def request(
        cls,
        *,
        show: Event,
        ticket_type_id: UUID,
        quantity: int,
        customer_name: str,
        customer_email: str,
        owner_id: str,
        now: datetime,
        hold_for: timedelta,
        payment_token: str,
        booking_id: UUID | None = None,
    ) -> Booking:
        """A PENDING booking priced from the event's ticket type, never from the client;
        `booking_id` None: a new random id."""
        quantity = rules.positive_count(quantity, "quantity", maximum=rules.MAX_TICKETS_PER_BOOKING)
        name = rules.person_name(customer_name)
        email = rules.email(customer_email)
        if not owner_id.strip():
            raise InvalidInputError("a booking needs an owner")
        token = rules.payment_token(payment_token)
        if show.is_cancelled:
            raise ConflictError(f"event {show.id} is cancelled", error_type="event_cancelled")
        if not show.is_on_sale(now):
            raise ConflictError(f"event {show.id} is not on sale", error_type="event_not_on_sale")
        ticket_type = show.ticket_type(ticket_type_id)
        if ticket_type is None:
            raise ConflictError(
                f"event {show.id} has no ticket type {ticket_type_id}",
                error_type="unknown_ticket_type",
            )
        # _create: eventsourcing's constructor that takes a given id (a call does not).
        return cls._create(
            cls.Requested,
            id=booking_id,
            event_id=show.id,
            ticket_type_id=ticket_type.ticket_type_id,
            quantity=quantity,
            customer_name=name,
            customer_email=email,
            owner_id=owner_id,
            unit_price=ticket_type.price,
            currency=ticket_type.currency,
            hold_expires_at=now + hold_for,
            payment_token=token,
        )

    @property
    def total_price(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"))

    @property
    def is_pending(self) -> bool:
        return self.status == BookingStatus.PENDING

    @property
    def amount_due(self) -> int:
        """The total in minor units: exactly what is charged."""
        return minor_units(self.total_price)

    @property
    def payment_is_due(self) -> bool:
        return self.payment_status == PaymentStatus.DUE

    @property
    def is_captured(self) -> bool:
        return self.payment_status == PaymentStatus.CAPTURED

    def tickets_reserved(self) -> None:
        """Inventory holds the tickets: the total is now to be charged."""
        self._ensure_status(BookingStatus.PENDING, "charged")
        if self.payment_status is not None:
            return
        self._payment_due(amount=self.total_price, currency=self.currency)

    class PaymentDue(Correlated, Aggregate.Event):
        amount: Decimal
        currency: str

    @event(PaymentDue)
    def _payment_due(self, amount: Decimal, currency: str) -> None:
        self.payment_status = PaymentStatus.DUE.value

    def settle_payment(self, result: PaymentResult) -> Settlement:
        """Records what the provider now knows about this booking's payment: a capture
        confirms a PENDING booking (or is recorded to be refunded when the booking ended
        meanwhile), a refund ends the capture, a decline rejects a PENDING booking. A
        capture that does not match the booking raises ConflictError before any fact."""
        if isinstance(result, Declined | NothingCharged):
            if isinstance(result, Declined) and self.is_pending and self.payment_is_due:
                self.payment_declined()
                return Settlement.DECLINED
            return Settlement.NOTHING_DUE
        captured = result.captured if isinstance(result, CapturedAndRefunded) else None
        if isinstance(result, Captured):
            captured = result
        confirmed = False
        if captured is not None and self.payment_is_due:
            was_pending = self.is_pending
            self.payment_captured(
                amount=captured.amount, currency=captured.currency, reference=captured.reference
            )
            confirmed = was_pending
        if isinstance(result, Refunded | CapturedAndRefunded) and self.is_captured:
            self.payment_refunded(refund_reference=result.refund_reference, reason=result.reason)
            return Settlement.REFUNDED
        if captured is not None and self.is_captured and self.status != BookingStatus.CONFIRMED:
            return Settlement.TO_REFUND
        return Settlement.CONFIRMED if confirmed else Settlement.UNCHANGED

    def payment_captured(self, *, amount: int, currency: str, reference: str) -> None:
        """The provider captured `amount` (minor units). A PENDING booking is confirmed by
        it, in one fact carrying the payment; on a booking that ended otherwise the capture
        is recorded alone, so it is known and refunded."""
        if not self.payment_is_due:
            raise ConflictError(
                f"booking {self.id} has no payment due (payment {self.payment_status})",
                error_type="illegal_payment_transition",
            )
        if amount != self.amount_due or currency.upper() != self.currency:
            raise ConflictError(
                f"booking {self.id} costs {self.amount_due} {self.currency}, "
                f"not {amount} {currency.upper()}",
                error_type="payment_amount_mismatch",
            )
        if self.is_pending:
            self._confirmed(
                event_id=self.event_id,
                ticket_type_id=self.ticket_type_id,
                quantity=self.quantity,
                owner_id=self.owner_id,
                customer_name=self.customer_name,
                customer_email=self.customer_email,
                total_price=self.total_price,
                currency=self.currency,
                payment_reference=reference,
            )
            return
        self._payment_captured(
            event_id=self.event_id,
            ticket_type_id=self.ticket_type_id,
            quantity=self.quantity,
            amount=self.total_price,
            currency=self.currency,
            reference=reference,
        )

    class PaymentCaptured(Correlated, Aggregate.Event):
        event_id: UUID
        ticket_type_id: UUID
        quantity: int
        amount: Decimal
        currency: str
        reference: str

    @event(PaymentCaptured)
    def _payment_captured(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        quantity: int,
        amount: Decimal,
        currency: str,
        reference: str,
    ) -> None:
        self.payment_status = PaymentStatus.CAPTURED.value
        self.payment_reference = reference

    def payment_refunded(self, *, refund_reference: str, reason: str) -> None:
        if not self.is_captured or self.payment_reference is None:
            raise ConflictError(
                f"booking {self.id} has no captured payment to refund",
                error_type="illegal_payment_transition",
            )
        self._payment_refunded(
            event_id=self.event_id,
            ticket_type_id=self.ticket_type_id,
            quantity=self.quantity,
            amount=self.total_price,
            currency=self.currency,
            reference=self.payment_reference,
            refund_reference=refund_reference,
            reason=reason,
        )

    class PaymentRefunded(Correlated, Aggregate.Event):
        event_id: UUID
        ticket_type_id: UUID
        quantity: int
        amount: Decimal
        currency: str
        reference: str
        refund_reference: str
        reason: str

    @event(PaymentRefunded)
    def _payment_refunded(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        quantity: int,
        amount: Decimal,
        currency: str,
        reference: str,
        refund_reference: str,
        reason: str,
    ) -> None:
        self.payment_status = PaymentStatus.REFUNDED.value

    def payment_declined(self) -> None:
        if not self.payment_is_due:
            raise ConflictError(
                f"booking {self.id} has no payment due (payment {self.payment_status})",
                error_type="illegal_payment_transition",
            )
        self.reject(RejectionReason.PAYMENT_DECLINED)

    class Confirmed(Correlated, Aggregate.Event):
        """Version 2 added `payment_reference`, the capture that confirmed the booking; a
        version-1 confirmation followed its own PaymentCaptured (None)."""

        class_version = 2

        event_id: UUID
        ticket_type_id: UUID
        quantity: int
        owner_id: str
        customer_name: str
        customer_email: str
        total_price: Decimal
        currency: str
        payment_reference: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["payment_reference"] = None

    @event(Confirmed)
    def _confirmed(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        quantity: int,
        owner_id: str,
        customer_name: str,
        customer_email: str,
        total_price: Decimal,
        currency: str,
        payment_reference: str | None,
    ) -> None:
        self.status = BookingStatus.CONFIRMED.value
        if payment_reference is not None:
            self.payment_status = PaymentStatus.CAPTURED.value
            self.payment_reference = payment_reference

    def reject(self, reason: RejectionReason) -> None:
        self._ensure_status(BookingStatus.PENDING, "rejected")
        self._rejected(
            event_id=self.event_id,
            ticket_type_id=self.ticket_type_id,
            quantity=self.quantity,
            reason=RejectionReason(reason).value,
        )

    class Rejected(Correlated, Aggregate.Event):
        event_id: UUID
        ticket_type_id: UUID
        quantity: int
        reason: str

    @event(Rejected)
    def _rejected(self, event_id: UUID, ticket_type_id: UUID, quantity: int, reason: str) -> None:
        self.status = BookingStatus.REJECTED.value
        self.rejection_reason = reason
        if reason == RejectionReason.PAYMENT_DECLINED:
            self.payment_status = PaymentStatus.DECLINED.value

    class Cancelled(Correlated, Aggregate.Event):
        """Version 2 added `reason`; every version-1 cancellation was its owner's or an
        admin's (None)."""

        class_version = 2

        event_id: UUID
        ticket_type_id: UUID
        quantity: int
        cancelled_by: str
        reason: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reason"] = None

    def cancel(self, *, cancelled_by: str, reason: CancellationReason | None = None) -> None:
        """A CONFIRMED booking ends; its captured payment is to be refunded."""
        self._ensure_status(BookingStatus.CONFIRMED, "cancelled")
        self._cancelled(
            event_id=self.event_id,
            ticket_type_id=self.ticket_type_id,
            quantity=self.quantity,
            cancelled_by=cancelled_by,
            reason=CancellationReason(reason).value if reason is not None else None,
        )
        if self.is_captured:
            self._refund_due()

    @event(Cancelled)
    def _cancelled(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        quantity: int,
        cancelled_by: str,
        reason: str | None,
    ) -> None:
        self.status = BookingStatus.CANCELLED.value
        self.cancelled_by = cancelled_by
        self.cancellation_reason = reason

    class RefundDue(Correlated, Aggregate.Event):
        """No facts beyond the aggregate's id."""

    @event(RefundDue)
    def _refund_due(self) -> None:
        """The captured payment stays captured until the payment worker has refunded it."""

    def end_for_cancelled_event(self, *, cancelled_by: str) -> bool:
        """Its event was cancelled: CONFIRMED becomes CANCELLED (refund due), PENDING is
        REJECTED (any payment in flight is cancelled or refunded by the payment worker).
        False when the booking had already ended."""
        if self.status == BookingStatus.CONFIRMED:
            self.cancel(cancelled_by=cancelled_by, reason=CancellationReason.EVENT_CANCELLED)
            return True
        if self.is_pending:
            self.reject(RejectionReason.EVENT_CANCELLED)
            return True
        return False

    @property
    def refund_reason(self) -> str:
        """Why a captured payment of this booking is given back."""
        if self.status == BookingStatus.CANCELLED:
            return self.cancellation_reason or CANCELLED_REFUND_REASON
        if self.status == BookingStatus.REJECTED and self.rejection_reason:
            return self.rejection_reason
        return EXPIRED_REFUND_REASON

    def expire(self, *, now: datetime) -> None:
        self._ensure_status(BookingStatus.PENDING, "expired")
        if now < self.hold_expires_at:
            raise ConflictError(
                f"the hold on booking {self.id} lasts until {self.hold_expires_at.isoformat()}",
                error_type="hold_not_expired",
            )
        self._expired(
            event_id=self.event_id, ticket_type_id=self.ticket_type_id, quantity=self.quantity
        )

    class Expired(Correlated, Aggregate.Event):
        event_id: UUID
        ticket_type_id: UUID
        quantity: int

    @event(Expired)
    def _expired(self, event_id: UUID, ticket_type_id: UUID, quantity: int) -> None:
        self.status = BookingStatus.EXPIRED.value

    def _ensure_status(self, required: BookingStatus, becoming: str) -> None:
        if self.status != required:
            raise ConflictError(
                f"a {self.status} booking cannot be {becoming}",
                error_type="illegal_booking_transition",
            )
