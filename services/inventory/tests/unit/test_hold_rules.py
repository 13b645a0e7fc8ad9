"""The ledger's rules for holds made over HTTP: hold, claim, release unclaimed, answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from inventory.domain.bookings import BookingState
from inventory.domain.holds import HoldGranted, HoldRefused, answer_again
from inventory.domain.ledger import InventoryLedger
from inventory.domain.outcomes import (
    BookingLine,
    ReservationRejected,
    TicketsReleased,
    TicketsReserved,
)
from inventory.domain.stock import TicketStock
from ticketing_contracts.events import RejectionReason, ReleaseReason
from ticketing_contracts.holds import HOLD_RELEASED

EVENT = UUID(int=1)
TICKETS = UUID(int=2)
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=2)
CLAIM_BY = NOW + timedelta(seconds=30)


def on_sale_ledger(quantity: int) -> InventoryLedger:
    ledger = InventoryLedger()
    ledger.learn_ticket_types(EVENT, [(TICKETS, quantity)])
    ledger.publish_show(EVENT)
    return ledger


def line(quantity: int, booking_id: UUID | None = None) -> BookingLine:
    return BookingLine(booking_id or uuid4(), EVENT, TICKETS, quantity)


def stock(ledger: InventoryLedger) -> TicketStock:
    return ledger.shows[EVENT].ticket_types[TICKETS]


def hold(ledger: InventoryLedger, booking: BookingLine) -> object:
    return ledger.hold(booking, at=NOW, expires_at=EXPIRES, claim_by=CLAIM_BY)


def test_a_hold_reserves_like_a_booking_fact_and_waits_for_its_claim() -> None:
    ledger = on_sale_ledger(5)
    booking = line(3)
    outcome = hold(ledger, booking)
    assert isinstance(outcome, TicketsReserved)
    assert (outcome.stock.reserved, outcome.stock.available) == (3, 2)
    record = ledger.bookings[booking.booking_id]
    assert record.awaits_claim
    assert (record.hold_expires_at, record.claim_by) == (EXPIRES, CLAIM_BY)
    assert answer_again(record) == HoldGranted(booking.booking_id, EXPIRES)


def test_holds_what_stock_allows_and_refuses_the_rest_with_the_reasons_of_booking_facts() -> None:
    ledger = on_sale_ledger(3)
    first, second, third = line(2), line(2), line(1)
    assert isinstance(hold(ledger, first), TicketsReserved)
    refused = hold(ledger, second)
    assert isinstance(refused, ReservationRejected)
    assert refused.reason is RejectionReason.NOT_ENOUGH_TICKETS
    assert isinstance(hold(ledger, third), TicketsReserved)
    sold_out = hold(ledger, line(1))
    assert isinstance(sold_out, ReservationRejected)
    assert sold_out.reason is RejectionReason.SOLD_OUT
    assert answer_again(ledger.bookings[second.booking_id]) == HoldRefused(
        second.booking_id, RejectionReason.NOT_ENOUGH_TICKETS
    )


def test_a_booking_id_seen_before_changes_nothing_and_keeps_its_first_answer() -> None:
    ledger = on_sale_ledger(5)
    booking = line(2)
    hold(ledger, booking)
    again = ledger.hold(
        booking,
        at=NOW + timedelta(hours=1),
        expires_at=EXPIRES + timedelta(hours=1),
        claim_by=CLAIM_BY + timedelta(hours=1),
    )
    assert again is None
    assert stock(ledger).reserved == 2
    assert answer_again(ledger.bookings[booking.booking_id]) == HoldGranted(
        booking.booking_id, EXPIRES
    )


def test_unknown_and_unpublished_events_are_refused_with_catalog_reasons() -> None:
    ledger = on_sale_ledger(5)
    unknown = hold(ledger, BookingLine(uuid4(), uuid4(), TICKETS, 1))
    assert isinstance(unknown, ReservationRejected)
    assert unknown.reason is RejectionReason.UNKNOWN_EVENT
    draft = InventoryLedger()
    draft.learn_ticket_types(EVENT, [(TICKETS, 5)])
    not_on_sale = hold(draft, line(1))
    assert isinstance(not_on_sale, ReservationRejected)
    assert not_on_sale.reason is RejectionReason.EVENT_NOT_ON_SALE


def test_the_booking_fact_claims_the_hold_without_a_second_reservation() -> None:
    ledger = on_sale_ledger(5)
    booking = line(2)
    hold(ledger, booking)
    assert ledger.request_tickets(booking, at=NOW) is None
    record = ledger.bookings[booking.booking_id]
    assert (record.state, record.claim_by) == (BookingState.RESERVED, None)
    assert stock(ledger).reserved == 2
    assert ledger.release_unclaimed(booking.booking_id, now=CLAIM_BY + timedelta(hours=1)) is None


def test_claiming_a_hold_changes_no_stock() -> None:
    ledger = on_sale_ledger(5)
    booking = line(2)
    hold(ledger, booking)
    stored = InventoryLedger(ledger.shows.values(), ledger.bookings.values())
    stored.request_tickets(booking, at=NOW)
    assert stored.changed_bookings == {booking.booking_id}
    assert stored.stock_changes() == []


def test_an_unclaimed_hold_is_released_after_its_deadline_and_leaves_a_tombstone() -> None:
    ledger = on_sale_ledger(5)
    booking = line(2)
    hold(ledger, booking)
    assert ledger.release_unclaimed(booking.booking_id, now=CLAIM_BY - timedelta(seconds=1)) is None
    released = ledger.release_unclaimed(booking.booking_id, now=CLAIM_BY)
    assert isinstance(released, TicketsReleased)
    assert released.reason is ReleaseReason.EXPIRED
    assert (released.stock.reserved, released.stock.available) == (0, 5)
    record = ledger.bookings[booking.booking_id]
    assert record.state is BookingState.RELEASED_UNCLAIMED
    assert answer_again(record) == HoldRefused(booking.booking_id, HOLD_RELEASED)
    assert hold(ledger, booking) is None, "a late retry never holds again"
    assert stock(ledger).reserved == 0


def test_a_booking_stored_after_its_hold_was_released_is_decided_again() -> None:
    ledger = on_sale_ledger(2)
    late, other = line(2), line(2)
    hold(ledger, late)
    ledger.release_unclaimed(late.booking_id, now=CLAIM_BY)
    hold(ledger, other)
    stored = InventoryLedger(ledger.shows.values(), ledger.bookings.values())
    rejected = stored.request_tickets(late, at=NOW)
    assert isinstance(rejected, ReservationRejected)
    assert rejected.reason is RejectionReason.SOLD_OUT
    assert stored.bookings[late.booking_id].state is BookingState.REJECTED
    assert stored.changed_bookings == {late.booking_id}, "an update, not a second row"
    assert not stored.new_bookings


def test_a_booking_stored_after_its_hold_was_released_is_held_again_when_stock_allows() -> None:
    ledger = on_sale_ledger(2)
    late = line(2)
    hold(ledger, late)
    ledger.release_unclaimed(late.booking_id, now=CLAIM_BY)
    reserved = ledger.request_tickets(late, at=NOW)
    assert isinstance(reserved, TicketsReserved)
    assert stock(ledger).reserved == 2
    assert not ledger.bookings[late.booking_id].awaits_claim


def test_a_claimed_hold_ends_with_its_booking_facts() -> None:
    ledger = on_sale_ledger(5)
    booking = line(2)
    hold(ledger, booking)
    ledger.request_tickets(booking, at=NOW)
    assert ledger.confirm_booking(booking.booking_id) is not None
    assert answer_again(ledger.bookings[booking.booking_id]) == HoldGranted(
        booking.booking_id, EXPIRES
    )
    assert (stock(ledger).reserved, stock(ledger).sold) == (0, 2)


def test_an_expired_hold_is_answered_hold_released() -> None:
    ledger = on_sale_ledger(5)
    booking = line(2)
    hold(ledger, booking)
    ledger.request_tickets(booking, at=NOW)
    ledger.expire_hold(booking)
    assert answer_again(ledger.bookings[booking.booking_id]) == HoldRefused(
        booking.booking_id, HOLD_RELEASED
    )
