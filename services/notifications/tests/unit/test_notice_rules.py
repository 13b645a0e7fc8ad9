from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from notifications.domain.attempts import message_id, next_attempt_at
from notifications.domain.notices import NoticeKind, customer_from, notice_for
from ticketing_contracts.events import CancellationReason, EventCancelled

from ..facts import Booking

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def kind_of(fact):
    notice = notice_for(uuid4(), NOW, fact)
    return None if notice is None else notice.kind


def test_a_confirmed_booking_makes_a_confirmation() -> None:
    assert kind_of(Booking().confirmed()) is NoticeKind.CONFIRMATION


def test_a_cancelled_booking_makes_a_cancellation_worded_by_its_reason() -> None:
    booking = Booking()
    assert kind_of(booking.cancelled()) is NoticeKind.CANCELLATION
    assert (
        kind_of(booking.cancelled(CancellationReason.EVENT_CANCELLED))
        is NoticeKind.EVENT_CANCELLATION
    )


def test_a_refund_makes_a_refund_notice_with_its_amount() -> None:
    notice = notice_for(uuid4(), NOW, Booking(quantity=3).refunded())
    assert notice is not None
    assert notice.kind is NoticeKind.REFUND
    assert notice.details == {"amount": "135.00", "currency": "EUR", "reason": "booking_cancelled"}


def test_requests_and_the_event_cancellation_itself_make_no_mail() -> None:
    booking = Booking()
    assert kind_of(booking.requested()) is None
    assert kind_of(EventCancelled(event_id=booking.event_id)) is None


def test_the_notice_is_keyed_by_the_fact_that_caused_it() -> None:
    fact_id = uuid4()
    notice = notice_for(fact_id, NOW, Booking().confirmed())
    assert notice is not None
    assert notice.fact_id == fact_id


def test_requests_and_confirmations_name_the_customer() -> None:
    booking = Booking(customer_name="Grace Hopper", customer_email="grace@example.test")
    for fact in (booking.requested(), booking.confirmed()):
        customer = customer_from(fact)
        assert customer is not None
        assert (customer.name, customer.email, customer.total_price) == (
            "Grace Hopper",
            "grace@example.test",
            Decimal("90.00"),
        )
    assert customer_from(booking.cancelled()) is None


def test_retries_back_off_exponentially_up_to_the_bound() -> None:
    waits = [
        (next_attempt_at(NOW, attempts, initial_seconds=5, max_seconds=60) - NOW).total_seconds()
        for attempts in range(1, 7)
    ]
    assert waits == [5, 10, 20, 40, 60, 60]


def test_every_attempt_of_a_notice_carries_the_same_message_id() -> None:
    assert message_id("f1", "example.test") == "<f1@notifications.example.test>"
