from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.domain.bookings import BookingState
from inventory.domain.ledger import InventoryLedger
from inventory.domain.outcomes import (
    BookingLine,
    ReservationRejected,
    TicketsReleased,
    TicketsReserved,
    TicketsSold,
)
from inventory.domain.stock import InventoryInvariantViolated, TicketStock
from ticketing_contracts.events import RejectionReason, ReleaseReason

EVENT = UUID(int=1)
TICKETS = UUID(int=2)
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def on_sale_ledger(quantity: int) -> InventoryLedger:
    ledger = InventoryLedger()
    ledger.learn_ticket_types(EVENT, [(TICKETS, quantity)])
    ledger.publish_show(EVENT)
    return ledger


def line(quantity: int, booking_id: UUID | None = None) -> BookingLine:
    return BookingLine(booking_id or uuid4(), EVENT, TICKETS, quantity)


def stock(ledger: InventoryLedger) -> TicketStock:
    return ledger.shows[EVENT].ticket_types[TICKETS]


def test_reserves_when_enough_tickets_remain() -> None:
    ledger = on_sale_ledger(5)
    outcome = ledger.request_tickets(line(3), at=NOW)
    assert isinstance(outcome, TicketsReserved)
    assert (outcome.stock.reserved, outcome.stock.available, outcome.stock.version) == (3, 2, 1)


def test_rejects_booking_when_sold_out() -> None:
    ledger = on_sale_ledger(2)
    ledger.request_tickets(line(2), at=NOW)
    outcome = ledger.request_tickets(line(1), at=NOW)
    assert isinstance(outcome, ReservationRejected)
    assert outcome.reason is RejectionReason.SOLD_OUT


def test_rejects_booking_when_not_enough_tickets() -> None:
    ledger = on_sale_ledger(2)
    outcome = ledger.request_tickets(line(3), at=NOW)
    assert isinstance(outcome, ReservationRejected)
    assert outcome.reason is RejectionReason.NOT_ENOUGH_TICKETS


def test_rejects_unknown_draft_and_cancelled_events() -> None:
    ledger = InventoryLedger()
    unknown = ledger.request_tickets(line(1), at=NOW)
    ledger.learn_ticket_types(EVENT, [(TICKETS, 5)])
    draft = ledger.request_tickets(line(1), at=NOW)
    unknown_type = ledger.request_tickets(BookingLine(uuid4(), EVENT, uuid4(), 1), at=NOW)
    ledger.publish_show(EVENT)
    ledger.cancel_show(EVENT)
    cancelled = ledger.request_tickets(line(1), at=NOW)
    reasons = [
        o.reason if isinstance(o, ReservationRejected) else None
        for o in (unknown, draft, unknown_type, cancelled)
    ]
    assert reasons == [
        RejectionReason.UNKNOWN_EVENT,
        RejectionReason.EVENT_NOT_ON_SALE,
        RejectionReason.EVENT_NOT_ON_SALE,
        RejectionReason.EVENT_CANCELLED,
    ]


def test_a_repeated_request_has_no_second_effect() -> None:
    ledger = on_sale_ledger(5)
    request = line(2)
    ledger.request_tickets(request, at=NOW)
    assert ledger.request_tickets(request, at=NOW) is None
    assert stock(ledger).reserved == 2


def test_confirmation_sells_the_reservation_once() -> None:
    ledger = on_sale_ledger(5)
    request = line(2)
    ledger.request_tickets(request, at=NOW)
    sold = ledger.confirm_booking(request.booking_id)
    assert isinstance(sold, TicketsSold)
    assert ledger.confirm_booking(request.booking_id) is None
    assert (stock(ledger).reserved, stock(ledger).sold) == (0, 2)


def test_cancellation_releases_sold_tickets_once() -> None:
    ledger = on_sale_ledger(5)
    request = line(2)
    ledger.request_tickets(request, at=NOW)
    ledger.confirm_booking(request.booking_id)
    released = ledger.cancel_booking(request)
    assert isinstance(released, TicketsReleased)
    assert released.reason is ReleaseReason.CANCELLED
    assert ledger.cancel_booking(request) is None
    assert stock(ledger).available == 5


def test_expiry_releases_the_hold_once_and_not_a_sale() -> None:
    ledger = on_sale_ledger(5)
    held, confirmed = line(2), line(1)
    ledger.request_tickets(held, at=NOW)
    ledger.request_tickets(confirmed, at=NOW)
    ledger.confirm_booking(confirmed.booking_id)
    released = ledger.expire_hold(held)
    assert isinstance(released, TicketsReleased)
    assert released.reason is ReleaseReason.EXPIRED
    assert ledger.expire_hold(held) is None
    assert ledger.expire_hold(confirmed) is None
    assert (stock(ledger).reserved, stock(ledger).sold) == (0, 1)


def test_a_rejection_after_the_reservation_puts_the_tickets_back_on_sale_once() -> None:
    ledger = on_sale_ledger(5)
    declined = line(2)
    ledger.request_tickets(declined, at=NOW)
    released = ledger.release_rejected(declined)
    assert isinstance(released, TicketsReleased)
    assert released.reason is ReleaseReason.REJECTED
    assert ledger.release_rejected(declined) is None
    assert (stock(ledger).available, stock(ledger).reserved) == (5, 0)


def test_a_rejection_inventory_made_itself_releases_nothing() -> None:
    ledger = on_sale_ledger(1)
    ledger.request_tickets(line(1), at=NOW)
    too_many = line(1)
    assert isinstance(ledger.request_tickets(too_many, at=NOW), ReservationRejected)
    assert ledger.release_rejected(too_many) is None
    assert (stock(ledger).available, stock(ledger).reserved) == (0, 1)


def test_a_request_arriving_after_its_expiry_is_not_reserved() -> None:
    ledger = on_sale_ledger(5)
    request = line(2)
    assert ledger.expire_hold(request) is None
    assert ledger.bookings[request.booking_id].state is BookingState.EXPIRED
    assert ledger.request_tickets(request, at=NOW) is None
    assert stock(ledger).reserved == 0


def test_a_ledger_names_each_ticket_type_it_changed_once_with_its_stock_after_all_of_it() -> None:
    other = UUID(int=3)
    ledger = on_sale_ledger(10)
    ledger.learn_ticket_types(EVENT, [(other, 4)])
    stored = InventoryLedger(ledger.shows.values())
    bookings = [line(2), line(3), BookingLine(uuid4(), EVENT, other, 1)]
    for booking in bookings:
        stored.request_tickets(booking, at=NOW)
    stored.confirm_booking(bookings[0].booking_id)
    stored.request_tickets(line(9), at=NOW)  # refused: changes no stock
    changes = {change.stock.ticket_type_id: change for change in stored.stock_changes()}
    assert set(changes) == {TICKETS, other}
    tickets = changes[TICKETS].stock
    assert (tickets.reserved, tickets.sold, tickets.available, tickets.version) == (3, 2, 5, 3)
    assert (changes[other].event_id, changes[other].stock.reserved) == (EVENT, 1)


def test_a_ledger_that_only_refused_or_repeated_changed_no_stock() -> None:
    ledger = on_sale_ledger(2)
    held = line(2)
    ledger.request_tickets(held, at=NOW)
    stored = InventoryLedger(ledger.shows.values(), ledger.bookings.values())
    stored.request_tickets(held, at=NOW)
    stored.request_tickets(line(1), at=NOW)
    stored.confirm_booking(uuid4())
    assert stored.stock_changes() == []


def test_learning_a_ticket_type_is_a_change_of_its_stock_at_version_zero() -> None:
    ledger = InventoryLedger()
    ledger.learn_ticket_types(EVENT, [(TICKETS, 7)])
    [learned] = ledger.stock_changes()
    assert (learned.stock.available, learned.stock.version) == (7, 0)
    ledger.publish_show(EVENT)
    known = InventoryLedger(ledger.shows.values())
    known.learn_ticket_types(EVENT, [(TICKETS, 7)])
    assert known.stock_changes() == []


def test_stock_refuses_to_oversell() -> None:
    ticket_stock = TicketStock(TICKETS, quantity=1)
    with pytest.raises(InventoryInvariantViolated):
        ticket_stock.reserve(2)


# -- property: any interleaving keeps the books balanced ---------------------------------

BOOKINGS = [UUID(int=100 + n) for n in range(12)]
operation = st.tuples(
    st.sampled_from(["request", "confirm", "cancel", "expire"]),
    st.sampled_from(BOOKINGS),
    st.integers(min_value=1, max_value=4),
)


@settings(max_examples=300, deadline=None)
@given(
    quantity=st.integers(min_value=1, max_value=15),
    operations=st.lists(operation, max_size=60),
)
def test_no_interleaving_oversells_or_over_releases(
    quantity: int, operations: list[tuple[str, UUID, int]]
) -> None:
    ledger = on_sale_ledger(quantity)
    reserved_per_booking: dict[UUID, int] = {}
    released_per_booking: dict[UUID, int] = {}
    quantity_asked: dict[UUID, int] = {}
    for kind, booking_id, tickets in operations:
        request = line(quantity_asked.setdefault(booking_id, tickets), booking_id)
        if kind == "request":
            outcome = ledger.request_tickets(request, at=NOW)
        elif kind == "confirm":
            outcome = ledger.confirm_booking(booking_id)
        elif kind == "cancel":
            outcome = ledger.cancel_booking(request)
        else:
            outcome = ledger.expire_hold(request)
        if isinstance(outcome, TicketsReserved):
            assert booking_id not in reserved_per_booking, "reserved twice"
            reserved_per_booking[booking_id] = outcome.booking.quantity
        if isinstance(outcome, TicketsReleased):
            released_per_booking[booking_id] = (
                released_per_booking.get(booking_id, 0) + outcome.booking.quantity
            )
        current = stock(ledger)
        assert current.reserved >= 0
        assert current.sold >= 0
        assert current.sold + current.reserved <= current.quantity
        for released_booking, released in released_per_booking.items():
            assert released <= reserved_per_booking.get(released_booking, 0)
        holding = {
            state: sum(b.quantity for b in ledger.bookings.values() if b.state is state)
            for state in (BookingState.RESERVED, BookingState.SOLD)
        }
        assert current.reserved == holding[BookingState.RESERVED]
        assert current.sold == holding[BookingState.SOLD]
