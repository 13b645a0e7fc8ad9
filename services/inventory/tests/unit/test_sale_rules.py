"""Sale windows and purchase limits, as the ledger decides holds and booking facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from inventory.domain.ledger import AccountTicketsNotLoaded, InventoryLedger
from inventory.domain.outcomes import BookingLine, ReservationRejected, TicketsReserved
from inventory.domain.sale import LimitScope, PurchaseLimitReached, SaleTerms, SaleWindow
from ticketing_contracts.events import RejectionReason

EVENT = UUID(int=1)
STALLS = UUID(int=2)
BALCONY = UUID(int=3)
FAN = "fan-1"
OPENS = datetime(2030, 5, 1, 10, 0, tzinfo=UTC)
CLOSES = datetime(2030, 5, 1, 18, 0, tzinfo=UTC)


def ledger_on_sale(
    event: SaleTerms = SaleTerms(),
    stalls: SaleTerms = SaleTerms(),
    *,
    accounts: tuple[str, ...] = (FAN,),
) -> InventoryLedger:
    ledger = InventoryLedger(account_tickets={(EVENT, account): {} for account in accounts})
    ledger.learn_ticket_types(EVENT, [(STALLS, 100), (BALCONY, 100)])
    ledger.change_sale(EVENT, event)
    ledger.change_ticket_type_sale(EVENT, STALLS, stalls)
    ledger.publish_show(EVENT)
    return ledger


def line(quantity: int, ticket_type_id: UUID = STALLS, owner_id: str = FAN) -> BookingLine:
    return BookingLine(uuid4(), EVENT, ticket_type_id, quantity, owner_id)


def hold(ledger: InventoryLedger, booking: BookingLine, at: datetime) -> object:
    return ledger.hold(
        booking, at=at, expires_at=at + timedelta(minutes=2), claim_by=at + timedelta(seconds=30)
    )


def refusal(outcome: object) -> tuple[RejectionReason, object]:
    assert isinstance(outcome, ReservationRejected), outcome
    return outcome.reason, outcome.detail


def test_a_hold_before_the_sale_opens_or_once_it_closed_is_refused_with_the_window() -> None:
    ledger = ledger_on_sale(SaleTerms(starts_at=OPENS, ends_at=CLOSES))
    window = SaleWindow(OPENS, CLOSES)

    early = hold(ledger, line(1), OPENS - timedelta(seconds=1))
    opening = hold(ledger, line(1), OPENS)
    last_moment = hold(ledger, line(1), CLOSES - timedelta(microseconds=1))
    closed = hold(ledger, line(1), CLOSES)

    assert refusal(early) == (RejectionReason.NOT_ON_SALE, window)
    assert isinstance(opening, TicketsReserved)
    assert isinstance(last_moment, TicketsReserved)
    assert refusal(closed) == (RejectionReason.NOT_ON_SALE, window)


def test_a_ticket_type_overrides_each_bound_of_the_events_window_on_its_own() -> None:
    presale = OPENS - timedelta(hours=2)
    ledger = ledger_on_sale(
        SaleTerms(starts_at=OPENS, ends_at=CLOSES), SaleTerms(starts_at=presale)
    )

    stalls = hold(ledger, line(1), presale)
    balcony = hold(ledger, line(1, BALCONY), presale)
    stalls_after_the_end = hold(ledger, line(1), CLOSES)

    assert isinstance(stalls, TicketsReserved)
    assert refusal(balcony) == (RejectionReason.NOT_ON_SALE, SaleWindow(OPENS, CLOSES))
    assert refusal(stalls_after_the_end) == (
        RejectionReason.NOT_ON_SALE,
        SaleWindow(presale, CLOSES),
    )


def test_a_draft_is_refused_event_not_on_sale_whatever_its_window() -> None:
    ledger = InventoryLedger()
    ledger.learn_ticket_types(EVENT, [(STALLS, 100)])

    assert refusal(hold(ledger, line(1), OPENS)) == (RejectionReason.EVENT_NOT_ON_SALE, None)


def test_a_window_edit_decides_the_next_hold_and_a_refusal_is_not_remembered() -> None:
    ledger = ledger_on_sale(SaleTerms(starts_at=OPENS))
    early = line(2)
    assert refusal(hold(ledger, early, OPENS - timedelta(hours=1)))[0] is (
        RejectionReason.NOT_ON_SALE
    )
    assert early.booking_id not in ledger.bookings, "decided again when asked again"

    ledger.change_sale(EVENT, SaleTerms(starts_at=OPENS - timedelta(hours=2)))

    assert isinstance(hold(ledger, early, OPENS - timedelta(hours=1)), TicketsReserved)


def test_the_events_limit_counts_the_accounts_tickets_of_every_type() -> None:
    ledger = ledger_on_sale(SaleTerms(max_tickets_per_account=4), accounts=(FAN, "fan-2"))

    assert isinstance(hold(ledger, line(2), OPENS), TicketsReserved)
    assert isinstance(hold(ledger, line(1, BALCONY), OPENS), TicketsReserved)
    over = hold(ledger, line(2, BALCONY), OPENS)
    last = hold(ledger, line(1), OPENS)
    another_fan = hold(ledger, line(4, owner_id="fan-2"), OPENS)

    assert refusal(over) == (
        RejectionReason.PURCHASE_LIMIT_REACHED,
        PurchaseLimitReached(LimitScope.EVENT, 4, 3),
    )
    assert isinstance(last, TicketsReserved)
    assert isinstance(another_fan, TicketsReserved)
    assert ledger.tickets_of((EVENT, FAN)) == {STALLS: 3, BALCONY: 1}


def test_a_ticket_types_limit_counts_only_its_own_tickets() -> None:
    ledger = ledger_on_sale(stalls=SaleTerms(max_tickets_per_account=2))

    assert isinstance(hold(ledger, line(2), OPENS), TicketsReserved)
    assert isinstance(hold(ledger, line(5, BALCONY), OPENS), TicketsReserved)
    over = hold(ledger, line(1), OPENS)

    assert refusal(over) == (
        RejectionReason.PURCHASE_LIMIT_REACHED,
        PurchaseLimitReached(LimitScope.TICKET_TYPE, 2, 2),
    )


def test_one_booking_above_the_limit_is_refused_with_nothing_held_yet() -> None:
    ledger = ledger_on_sale(SaleTerms(max_tickets_per_account=3))

    assert refusal(hold(ledger, line(4), OPENS)) == (
        RejectionReason.PURCHASE_LIMIT_REACHED,
        PurchaseLimitReached(LimitScope.EVENT, 3, 0),
    )


def test_bookings_that_end_give_the_allowance_back_and_sold_ones_keep_it() -> None:
    ledger = ledger_on_sale(SaleTerms(max_tickets_per_account=4))
    sold, cancelled, expired, declined = line(1), line(1), line(1), line(1)
    for booking in (sold, cancelled, expired, declined):
        assert isinstance(hold(ledger, booking, OPENS), TicketsReserved)
    assert refusal(hold(ledger, line(1), OPENS))[0] is RejectionReason.PURCHASE_LIMIT_REACHED

    ledger.confirm_booking(sold.booking_id)
    ledger.confirm_booking(cancelled.booking_id)
    ledger.cancel_booking(cancelled)
    ledger.expire_hold(expired)
    ledger.release_rejected(declined)

    assert ledger.tickets_of((EVENT, FAN)) == {STALLS: 1}
    assert isinstance(hold(ledger, line(3), OPENS), TicketsReserved)
    assert refusal(hold(ledger, line(1), OPENS))[0] is RejectionReason.PURCHASE_LIMIT_REACHED


def test_an_unclaimed_hold_released_by_the_sweeper_gives_its_tickets_back() -> None:
    ledger = ledger_on_sale(SaleTerms(max_tickets_per_account=2))
    unclaimed = line(2)
    hold(ledger, unclaimed, OPENS)

    ledger.release_unclaimed(unclaimed.booking_id, now=OPENS + timedelta(minutes=1))

    assert ledger.tickets_of((EVENT, FAN)) == {STALLS: 0}
    assert isinstance(hold(ledger, line(2), OPENS), TicketsReserved)


def test_a_retried_booking_id_counts_once() -> None:
    ledger = ledger_on_sale(SaleTerms(max_tickets_per_account=2))
    booking = line(2)

    assert isinstance(hold(ledger, booking, OPENS), TicketsReserved)
    assert hold(ledger, booking, OPENS) is None
    assert ledger.request_tickets(booking, at=OPENS) is None, "its fact claims the hold"

    assert ledger.tickets_of((EVENT, FAN)) == {STALLS: 2}


def test_a_booking_fact_is_decided_as_of_when_it_was_requested() -> None:
    ledger = ledger_on_sale(SaleTerms(starts_at=OPENS, ends_at=CLOSES))
    requested_in_time = ledger.request_tickets(line(1), at=CLOSES - timedelta(minutes=1))
    requested_late = ledger.request_tickets(line(1), at=CLOSES)

    assert isinstance(requested_in_time, TicketsReserved)
    assert refusal(requested_late)[0] is RejectionReason.NOT_ON_SALE


def test_a_limit_is_never_checked_against_tickets_that_were_not_loaded() -> None:
    ledger = ledger_on_sale(SaleTerms(max_tickets_per_account=2), accounts=())

    with pytest.raises(AccountTicketsNotLoaded):
        hold(ledger, line(1), OPENS)
