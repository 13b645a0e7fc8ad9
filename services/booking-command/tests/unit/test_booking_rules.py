from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from booking_command.domain.booking import Booking, BookingStatus, RejectionReason
from booking_command.domain.catalog_event import Event, TicketTypeSpec
from booking_command.domain.payment import (
    Captured,
    CapturedAndRefunded,
    Declined,
    NothingCharged,
    Refunded,
    Settlement,
)
from service_kit.errors import ConflictError, InvalidInputError

NOW = datetime(2030, 1, 1, tzinfo=UTC)
HOLD = timedelta(minutes=2)


def published_show() -> Event:
    show = Event.schedule(
        venue_id=uuid4(),
        venue_capacity=100,
        name="Show",
        description="",
        starts_at=NOW + timedelta(days=10),
        ticket_types=[TicketTypeSpec("Stalls", Decimal("49.50"), "EUR", 100)],
        now=NOW,
    )
    show.publish(now=NOW)
    return show


def request(show: Event | None = None, **overrides: object) -> Booking:
    show = show or published_show()
    arguments: dict[str, object] = {
        "show": show,
        "ticket_type_id": show.ticket_types[0].ticket_type_id,
        "quantity": 2,
        "customer_name": "Zoë O'Brien-Łukasz",
        "customer_email": "Zoe@Example.COM",
        "owner_id": "user-1",
        "now": NOW,
        "hold_for": HOLD,
        "payment_token": "tok_visa",
    }
    arguments.update(overrides)
    return Booking.request(**arguments)  # type: ignore[arg-type]


def test_total_price_is_computed_from_the_ticket_type_price() -> None:
    booking = request(quantity=3)
    assert booking.unit_price == Decimal("49.50")
    assert booking.total_price == Decimal("148.50")


def test_new_booking_is_pending_with_a_hold() -> None:
    booking = request()
    assert booking.status == BookingStatus.PENDING
    assert booking.hold_expires_at == NOW + HOLD


@pytest.mark.parametrize("quantity", [0, 11])
def test_rejects_quantity_outside_one_to_ten(quantity: int) -> None:
    with pytest.raises(InvalidInputError):
        request(quantity=quantity)


@pytest.mark.parametrize("name", ["<script>", 'Bob "B"', "Tom & Jerry", "Ann\x07", "", "x" * 201])
def test_rejects_customer_name_with_markup_or_control_characters(name: str) -> None:
    with pytest.raises(InvalidInputError):
        request(customer_name=name)


def test_customer_name_in_any_script_is_accepted_and_trimmed() -> None:
    assert request(customer_name="  山田 太郎 ").customer_name == "山田 太郎"


def test_customer_email_is_normalised_to_lower_case() -> None:
    assert request().customer_email == "zoe@example.com"


def test_rejects_invalid_email() -> None:
    with pytest.raises(InvalidInputError):
        request(customer_email="not-an-email")


def test_rejects_booking_for_unpublished_event() -> None:
    show = Event.schedule(
        venue_id=uuid4(),
        venue_capacity=10,
        name="Show",
        description="",
        starts_at=NOW + timedelta(days=1),
        ticket_types=[TicketTypeSpec("Stalls", Decimal("1"), "EUR", 10)],
        now=NOW,
    )
    with pytest.raises(ConflictError) as raised:
        request(show)
    assert raised.value.error_type == "event_not_on_sale"


def test_rejects_booking_for_cancelled_event() -> None:
    show = published_show()
    show.cancel(reason="")
    with pytest.raises(ConflictError) as raised:
        request(show)
    assert raised.value.error_type == "event_cancelled"


def test_rejects_booking_for_unknown_ticket_type() -> None:
    with pytest.raises(ConflictError):
        request(ticket_type_id=uuid4())


def paid(booking: Booking) -> Booking:
    booking.tickets_reserved()
    booking.payment_captured(amount=booking.amount_due, currency="eur", reference="pi_1")
    return booking


def test_pending_booking_is_confirmed_by_its_payments_capture_in_one_fact() -> None:
    booking = request()
    booking.tickets_reserved()
    booking.collect_events()

    booking.payment_captured(amount=booking.amount_due, currency="eur", reference="pi_1")

    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.payment_status, booking.payment_reference) == ("captured", "pi_1")
    [confirmed] = booking.collect_events()
    assert isinstance(confirmed, Booking.Confirmed)
    assert (confirmed.payment_reference, confirmed.total_price) == ("pi_1", Decimal("99.00"))


def test_reserved_tickets_make_exactly_the_total_due_in_minor_units() -> None:
    booking = request(quantity=3)
    booking.tickets_reserved()
    assert (booking.payment_status, booking.amount_due) == ("pending", 14850)


def test_a_capture_of_another_amount_is_refused() -> None:
    booking = request()
    booking.tickets_reserved()
    with pytest.raises(ConflictError):
        booking.payment_captured(amount=booking.amount_due - 1, currency="eur", reference="pi_1")


def test_no_capture_is_recorded_before_a_payment_is_due() -> None:
    with pytest.raises(ConflictError):
        request().payment_captured(amount=9900, currency="eur", reference="pi_1")


def test_declined_payment_rejects_the_booking() -> None:
    booking = request()
    booking.tickets_reserved()
    booking.payment_declined()
    assert (booking.status, booking.rejection_reason, booking.payment_status) == (
        "REJECTED",
        "payment_declined",
        "declined",
    )


def test_a_capture_landing_after_expiry_is_recorded_then_refunded() -> None:
    booking = request()
    booking.tickets_reserved()
    booking.expire(now=NOW + HOLD)
    booking.collect_events()
    booking.payment_captured(amount=booking.amount_due, currency="EUR", reference="pi_9")
    assert pending_events_of(booking) == ["PaymentCaptured"]
    assert (booking.status, booking.payment_status) == ("EXPIRED", "captured")
    booking.payment_refunded(refund_reference="re_1", reason="booking_expired")
    assert (booking.status, booking.payment_status) == ("EXPIRED", "refunded")


def test_only_a_captured_payment_can_be_refunded() -> None:
    booking = request()
    booking.tickets_reserved()
    with pytest.raises(ConflictError):
        booking.payment_refunded(refund_reference="re_1", reason="booking_expired")


@pytest.mark.parametrize("token", ["", "to", "tok visa", "tok_<script>", "t" * 256, "tok_\x00"])
def test_rejects_a_missing_or_malformed_payment_token(token: str) -> None:
    with pytest.raises(InvalidInputError):
        request(payment_token=token)


def test_a_second_capture_is_a_conflict() -> None:
    booking = paid(request())
    with pytest.raises(ConflictError):
        booking.payment_captured(amount=booking.amount_due, currency="eur", reference="pi_2")


def test_rejected_booking_keeps_its_reason() -> None:
    booking = request()
    booking.reject(RejectionReason.SOLD_OUT)
    assert (booking.status, booking.rejection_reason) == ("REJECTED", "sold_out")


def test_pending_booking_cannot_be_cancelled() -> None:
    with pytest.raises(ConflictError):
        request().cancel(cancelled_by="user-1")


def test_confirmed_booking_can_be_cancelled() -> None:
    booking = paid(request())
    booking.cancel(cancelled_by="user-1")
    assert booking.status == BookingStatus.CANCELLED


def test_hold_cannot_expire_early() -> None:
    with pytest.raises(ConflictError):
        request().expire(now=NOW + HOLD - timedelta(seconds=1))


def test_expired_booking_is_not_confirmed_by_a_late_capture() -> None:
    booking = request()
    booking.tickets_reserved()
    booking.expire(now=NOW + HOLD)
    booking.payment_captured(amount=booking.amount_due, currency="eur", reference="pi_1")
    assert booking.status == BookingStatus.EXPIRED


def pending_events_of(booking: Booking) -> list[str]:
    return [type(event).__name__ for event in booking.pending_events]


def test_cancelling_a_paid_booking_makes_its_refund_due() -> None:
    booking = paid(request())
    booking.collect_events()
    booking.cancel(cancelled_by="user-1")
    assert pending_events_of(booking) == ["Cancelled", "RefundDue"]
    assert (booking.cancelled_by, booking.cancellation_reason) == ("user-1", None)
    assert (booking.payment_status, booking.refund_reason) == ("captured", "booking_cancelled")
    booking.payment_refunded(refund_reference="re_1", reason=booking.refund_reason)
    assert (booking.status, booking.payment_status) == ("CANCELLED", "refunded")


def test_a_confirmed_booking_of_a_cancelled_event_is_cancelled_for_that_reason() -> None:
    booking = paid(request())
    booking.collect_events()
    assert booking.end_for_cancelled_event(cancelled_by="admin-1") is True
    assert pending_events_of(booking) == ["Cancelled", "RefundDue"]
    assert (booking.status, booking.cancellation_reason, booking.cancelled_by) == (
        "CANCELLED",
        "event_cancelled",
        "admin-1",
    )
    assert booking.refund_reason == "event_cancelled"


@pytest.mark.parametrize("payment_due", [False, True])
def test_a_pending_booking_of_a_cancelled_event_is_rejected_event_cancelled(
    payment_due: bool,
) -> None:
    booking = request()
    if payment_due:
        booking.tickets_reserved()
    assert booking.end_for_cancelled_event(cancelled_by="admin-1") is True
    assert (booking.status, booking.rejection_reason) == ("REJECTED", "event_cancelled")
    # A payment in flight stays due: the payment worker cancels or refunds it.
    assert booking.payment_status == ("pending" if payment_due else None)
    assert booking.refund_reason == "event_cancelled"


@pytest.mark.parametrize("end", ["expired", "rejected", "cancelled"])
def test_an_ended_booking_is_left_alone_by_its_events_cancellation(end: str) -> None:
    booking = request()
    if end == "expired":
        booking.expire(now=NOW + HOLD)
    elif end == "rejected":
        booking.reject(RejectionReason.SOLD_OUT)
    else:
        booking = paid(booking)
        booking.cancel(cancelled_by="user-1")
    booking.collect_events()
    assert booking.end_for_cancelled_event(cancelled_by="admin-1") is False
    assert pending_events_of(booking) == []


def test_a_cancelled_booking_cannot_be_cancelled_again() -> None:
    booking = paid(request())
    booking.cancel(cancelled_by="user-1")
    with pytest.raises(ConflictError):
        booking.cancel(cancelled_by="user-1")


def reserved() -> Booking:
    booking = request()
    booking.tickets_reserved()
    return booking


def test_settling_a_capture_confirms_a_pending_booking() -> None:
    booking = reserved()
    settled = booking.settle_payment(
        Captured(booking.id, "c", reference="pi_1", amount=booking.amount_due, currency="eur")
    )
    assert settled == Settlement.CONFIRMED
    assert (booking.status, booking.payment_reference) == ("CONFIRMED", "pi_1")


def test_settling_a_capture_of_an_expired_booking_leaves_it_to_refund() -> None:
    booking = reserved()
    booking.expire(now=NOW + HOLD)
    settled = booking.settle_payment(
        Captured(booking.id, "c", reference="pi_1", amount=booking.amount_due, currency="eur")
    )
    assert settled == Settlement.TO_REFUND
    assert (booking.status, booking.payment_status) == ("EXPIRED", "captured")


def test_settling_a_capture_found_and_refunded_records_both() -> None:
    booking = reserved()
    booking.expire(now=NOW + HOLD)
    booking.collect_events()
    captured = Captured(booking.id, "c", "pi_1", booking.amount_due, "eur")
    settled = booking.settle_payment(
        CapturedAndRefunded(booking.id, "c", captured, "re_1", "booking_expired")
    )
    assert settled == Settlement.REFUNDED
    assert pending_events_of(booking) == ["PaymentCaptured", "PaymentRefunded"]


def test_settling_a_refund_of_a_cancelled_booking() -> None:
    booking = paid(request())
    booking.cancel(cancelled_by="user-1")
    settled = booking.settle_payment(Refunded(booking.id, "c", "re_1", "booking_cancelled"))
    assert (settled, booking.payment_status) == (Settlement.REFUNDED, "refunded")


def test_settling_a_decline_rejects_a_pending_booking_once() -> None:
    booking = reserved()
    assert booking.settle_payment(Declined(booking.id, "c")) == Settlement.DECLINED
    assert (booking.status, booking.rejection_reason) == ("REJECTED", "payment_declined")
    assert booking.settle_payment(Declined(booking.id, "c")) == Settlement.NOTHING_DUE


def test_settling_nothing_charged_only_ends_the_due_payment() -> None:
    booking = reserved()
    booking.expire(now=NOW + HOLD)
    booking.collect_events()
    assert booking.settle_payment(NothingCharged(booking.id, "c")) == Settlement.NOTHING_DUE
    assert booking.pending_events == []


def test_settling_a_capture_that_does_not_match_is_a_conflict_and_records_nothing() -> None:
    booking = reserved()
    booking.collect_events()
    with pytest.raises(ConflictError):
        booking.settle_payment(Captured(booking.id, "c", "pi_1", booking.amount_due - 1, "eur"))
    assert booking.pending_events == []
