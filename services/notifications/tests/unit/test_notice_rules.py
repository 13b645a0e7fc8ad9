from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from notifications.domain.attempts import message_id, next_attempt_at
from notifications.domain.notices import (
    NoticeKind,
    customer_from,
    event_details_from,
    minutes_between,
    notice_for,
    offer_from,
)
from ticketing_contracts.events import CancellationReason, EventCancelled
from ticketing_contracts.events.catalog import TicketTypeChanged
from ticketing_contracts.events.inventory import OfferEnd

from ..facts import Booking, Offer

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


def test_an_expired_hold_makes_a_hold_expired_notice_for_its_booking() -> None:
    booking = Booking()
    notice = notice_for(uuid4(), NOW, booking.expired())
    assert notice is not None
    assert (notice.kind, notice.booking_id) == (NoticeKind.HOLD_EXPIRED, booking.booking_id)


def test_an_offer_made_makes_an_offer_notice_for_the_offer() -> None:
    offer = Offer(Booking())
    notice = notice_for(uuid4(), NOW, offer.made())
    assert notice is not None
    assert (notice.kind, notice.offer_id, notice.booking_id) == (
        NoticeKind.WAITLIST_OFFER,
        offer.offer_id,
        None,
    )


def test_of_an_offers_ends_only_the_expiry_is_mailed() -> None:
    offer = Offer(Booking())
    assert kind_of(offer.ended(OfferEnd.EXPIRED)) is NoticeKind.WAITLIST_OFFER_EXPIRED
    for outcome in (OfferEnd.ACCEPTED, OfferEnd.DECLINED, OfferEnd.LEFT, OfferEnd.CANCELLED):
        assert kind_of(offer.ended(outcome)) is None


def test_an_offer_made_names_the_fan_its_tickets_and_its_deadline() -> None:
    offer = Offer(Booking(), quantity=3)
    remembered = offer_from(offer.made())
    assert remembered is not None
    assert (remembered.name, remembered.email, remembered.quantity, remembered.expires_at) == (
        "Grace Hopper",
        "grace@example.test",
        3,
        offer.expires_at,
    )
    assert offer_from(offer.ended(OfferEnd.EXPIRED)) is None


def test_a_renamed_ticket_type_is_named_so_in_later_mails() -> None:
    booking = Booking()
    details = event_details_from(
        TicketTypeChanged(
            event_id=booking.event_id,
            ticket_type_id=booking.ticket_type_id,
            name="Balcony",
            price=Decimal("50.00"),
            currency="EUR",
            quantity=10,
        )
    )
    assert details is not None
    assert details.ticket_types == {booking.ticket_type_id: "Balcony"}


def test_minutes_left_round_down_and_never_go_negative() -> None:
    assert minutes_between(NOW, NOW + timedelta(minutes=14, seconds=59)) == 14
    assert minutes_between(NOW, NOW - timedelta(minutes=1)) == 0


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
