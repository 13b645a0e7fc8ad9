"""The waitlist's rules on the ledger: order, whole quantities, expiry passing on, general
sale refused while fans wait, offers only for their fan, closed sales, quantity changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from inventory.domain.ledger import InventoryLedger, Joined, NoOpenOffer
from inventory.domain.outcomes import BookingLine, ReservationRejected, TicketsReserved
from inventory.domain.stock import HoldWindows, ShowInventory, ShowStatus, TicketStock
from inventory.domain.waitlist import (
    EntryState,
    JoinRefusal,
    JoinRefused,
    JoinRequest,
    OfferEnded,
    OfferMade,
    TicketTypeChange,
    WaitlistEntry,
    entries_to_offer,
)
from ticketing_contracts.events import RejectionReason
from ticketing_contracts.events.inventory import OfferEnd

EVENT = uuid4()
TICKETS = uuid4()
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
OFFER_FOR = timedelta(minutes=15)


def sold_out(quantity: int = 4, **show: object) -> InventoryLedger:
    stock = TicketStock(TICKETS, quantity, reserved=0, sold=quantity)
    return InventoryLedger(
        [ShowInventory(EVENT, ShowStatus.ON_SALE, {TICKETS: stock}, **show)],  # type: ignore[arg-type]
        waitlists_of=[EVENT],
    )


def join(ledger: InventoryLedger, owner: str, quantity: int) -> WaitlistEntry:
    joined = ledger.join_waitlist(
        JoinRequest(EVENT, TICKETS, owner, quantity, owner.title(), f"{owner}@example.org"),
        entry_id=uuid4(),
        at=NOW,
    )
    assert isinstance(joined, Joined)
    return joined.entry


def give_back(ledger: InventoryLedger, tickets: int) -> None:
    stock = ledger.shows[EVENT].ticket_types[TICKETS]
    stock.release_sold(tickets)


def hold(ledger: InventoryLedger, line: BookingLine) -> TicketsReserved | ReservationRejected:
    ledger.account_tickets.setdefault((EVENT, line.owner_id or ""), {})
    outcome = ledger.hold(line, at=NOW, expires_at=NOW + OFFER_FOR, claim_by=NOW + OFFER_FOR)
    assert outcome is not None
    return outcome


def test_offers_free_tickets_to_the_first_entries_whose_whole_quantity_they_cover() -> None:
    ledger = sold_out()
    ada, bob, cy = join(ledger, "ada", 2), join(ledger, "bob", 1), join(ledger, "cy", 1)
    give_back(ledger, 3)

    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    assert [ada.state, bob.state, cy.state] == [
        EntryState.OFFERED,
        EntryState.OFFERED,
        EntryState.WAITING,
    ]
    assert ada.offer_expires_at == NOW + OFFER_FOR
    assert ledger.shows[EVENT].ticket_types[TICKETS].offered == 3
    assert [type(fact) for fact in ledger.offer_facts] == [OfferMade, OfferMade]


def test_the_first_entry_waits_for_its_whole_quantity_and_nobody_behind_it_is_served() -> None:
    assert entries_to_offer(2, []) == []
    ledger = sold_out()
    ada, bob = join(ledger, "ada", 3), join(ledger, "bob", 1)
    give_back(ledger, 2)

    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    assert (ada.state, bob.state) == (EntryState.WAITING, EntryState.WAITING)
    assert ledger.offer_facts == []


def test_an_expired_offer_passes_its_tickets_to_the_next_entry() -> None:
    ledger = sold_out()
    ada, bob = join(ledger, "ada", 2), join(ledger, "bob", 2)
    give_back(ledger, 2)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    ledger.make_offers(EVENT, now=NOW + OFFER_FOR, offer_for=OFFER_FOR)

    assert ada.state is EntryState.EXPIRED
    assert bob.state is EntryState.OFFERED
    ended = [fact for fact in ledger.offer_facts if isinstance(fact, OfferEnded)]
    assert [(fact.entry.owner_id, fact.outcome) for fact in ended] == [("ada", OfferEnd.EXPIRED)]


def test_the_event_sets_how_long_an_offer_lasts() -> None:
    ledger = sold_out(windows=HoldWindows(hold_minutes=5, offer_minutes=30))
    ada = join(ledger, "ada", 1)
    give_back(ledger, 1)

    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    assert ada.offer_expires_at == NOW + timedelta(minutes=30)


def test_general_sale_is_refused_sold_out_while_fans_wait_even_with_tickets_free() -> None:
    ledger = sold_out()
    join(ledger, "ada", 3)
    give_back(ledger, 2)

    outcome = hold(ledger, BookingLine(uuid4(), EVENT, TICKETS, 1, "speedy-script"))

    assert isinstance(outcome, ReservationRejected)
    assert outcome.reason is RejectionReason.SOLD_OUT
    assert ledger.shows[EVENT].ticket_types[TICKETS].snapshot().available == 0


def test_the_fan_books_their_offer_and_it_ends_accepted() -> None:
    ledger = sold_out()
    ada = join(ledger, "ada", 2)
    give_back(ledger, 2)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    outcome = hold(ledger, BookingLine(uuid4(), EVENT, TICKETS, 2, "ada", ada.offer_id))

    assert isinstance(outcome, TicketsReserved)
    stock = ledger.shows[EVENT].ticket_types[TICKETS]
    assert (stock.reserved, stock.offered) == (2, 0)
    assert ada.state is EntryState.ACCEPTED
    assert isinstance(ledger.offer_facts[-1], OfferEnded)
    assert ledger.offer_facts[-1].outcome is OfferEnd.ACCEPTED


@pytest.mark.parametrize(
    ("owner", "quantity", "later"),
    [("bob", 2, timedelta()), ("ada", 1, timedelta()), ("ada", 2, OFFER_FOR)],
    ids=["someone_else", "another_quantity", "expired"],
)
def test_an_offer_is_only_for_its_fan_its_quantity_and_its_time(
    owner: str, quantity: int, later: timedelta
) -> None:
    ledger = sold_out()
    ada = join(ledger, "ada", 2)
    give_back(ledger, 2)
    ledger.make_offers(EVENT, now=NOW - later, offer_for=OFFER_FOR)

    outcome = hold(ledger, BookingLine(uuid4(), EVENT, TICKETS, quantity, owner, ada.offer_id))

    assert isinstance(outcome, ReservationRejected)
    assert outcome.reason is RejectionReason.OFFER_NOT_VALID
    assert ada.state is EntryState.OFFERED


def test_a_declined_offer_passes_on_and_declining_twice_is_refused() -> None:
    ledger = sold_out()
    ada, bob = join(ledger, "ada", 1), join(ledger, "bob", 1)
    give_back(ledger, 1)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    ledger.decline_offer(ada.entry_id, "ada", at=NOW)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    assert (ada.state, bob.state) == (EntryState.DECLINED, EntryState.OFFERED)
    with pytest.raises(NoOpenOffer):
        ledger.decline_offer(ada.entry_id, "ada", at=NOW)


def test_with_nobody_left_waiting_returned_tickets_go_back_to_general_sale() -> None:
    ledger = sold_out()
    ada = join(ledger, "ada", 1)
    give_back(ledger, 1)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    ledger.leave_waitlist(ada.entry_id, "ada", at=NOW)

    stock = ledger.shows[EVENT].ticket_types[TICKETS]
    assert ada.state is EntryState.LEFT
    assert stock.snapshot().available == 1
    assert isinstance(hold(ledger, BookingLine(uuid4(), EVENT, TICKETS, 1, "x")), TicketsReserved)


def test_joining_needs_a_sold_out_ticket_type_and_answers_the_open_entry_again() -> None:
    ledger = sold_out()
    give_back(ledger, 1)
    refused = ledger.join_waitlist(
        JoinRequest(EVENT, TICKETS, "ada", 1, "Ada", "ada@example.org"), entry_id=uuid4(), at=NOW
    )
    assert refused == JoinRefused(JoinRefusal.NOT_SOLD_OUT)

    hold(ledger, BookingLine(uuid4(), EVENT, TICKETS, 1, "x"))
    first = join(ledger, "ada", 1)
    again = ledger.join_waitlist(
        JoinRequest(EVENT, TICKETS, "ada", 2, "Ada", "ada@example.org"), entry_id=uuid4(), at=NOW
    )
    assert again == Joined(first, new=False)


def test_closed_sales_refuse_holds_and_make_no_offers_until_reopened() -> None:
    ledger = sold_out()
    ada = join(ledger, "ada", 1)
    ledger.change_ticket_type(EVENT, TICKETS, quantity=5, sales_closed=True)

    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)
    outcome = hold(ledger, BookingLine(uuid4(), EVENT, TICKETS, 1, "bob"))

    assert ada.state is EntryState.WAITING
    assert isinstance(outcome, ReservationRejected)
    assert outcome.reason is RejectionReason.SALES_CLOSED

    ledger.change_ticket_type(EVENT, TICKETS, quantity=5, sales_closed=False)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)
    assert ada.state is EntryState.OFFERED


def test_a_raised_quantity_goes_to_the_waitlist_first() -> None:
    ledger = sold_out()
    ada = join(ledger, "ada", 2)

    ledger.change_ticket_type(EVENT, TICKETS, quantity=7, sales_closed=False)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    stock = ledger.shows[EVENT].ticket_types[TICKETS]
    assert ada.state is EntryState.OFFERED
    # The third new ticket waits with the open offer: general sale gets it once that ends.
    assert (stock.free, stock.snapshot().available) == (1, 0)


def test_a_lower_quantity_is_refused_below_what_is_sold_held_and_offered() -> None:
    ledger = sold_out(quantity=6)
    join(ledger, "ada", 2)
    give_back(ledger, 3)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)  # 3 sold, 2 offered, 1 free

    refused = ledger.answer_change(TicketTypeChange(EVENT, TICKETS, quantity=4), at=NOW)
    applied = ledger.answer_change(TicketTypeChange(EVENT, TICKETS, quantity=5), at=NOW)

    assert (refused.is_applied, refused.reason) == (False, "quantity_below_taken")
    assert (refused.taken.sold, refused.taken.held, refused.taken.offered) == (3, 0, 2)
    assert applied.is_applied
    assert ledger.shows[EVENT].ticket_types[TICKETS].quantity == 5


def test_a_fact_asking_below_what_is_taken_keeps_what_is_taken() -> None:
    ledger = sold_out(quantity=4)

    ledger.change_ticket_type(EVENT, TICKETS, quantity=2, sales_closed=False)

    assert ledger.shows[EVENT].ticket_types[TICKETS].quantity == 4


def test_removal_is_refused_while_tickets_are_taken_and_cancels_the_waitlist_otherwise() -> None:
    ledger = sold_out(quantity=1)
    ada = join(ledger, "ada", 1)
    refused = ledger.answer_change(TicketTypeChange(EVENT, TICKETS, remove=True), at=NOW)
    assert refused.reason == "ticket_type_in_use"

    give_back(ledger, 1)
    ledger.shows[EVENT].ticket_types[TICKETS].change_quantity(1)
    applied = ledger.answer_change(TicketTypeChange(EVENT, TICKETS, remove=True), at=NOW)

    assert applied.is_applied
    assert ada.state is EntryState.CANCELLED
    outcome = hold(ledger, BookingLine(uuid4(), EVENT, TICKETS, 1, "bob"))
    assert isinstance(outcome, ReservationRejected)
    assert outcome.reason is RejectionReason.UNKNOWN_TICKET_TYPE


def test_a_cancelled_event_cancels_its_offers_and_entries() -> None:
    ledger = sold_out()
    ada, bob = join(ledger, "ada", 1), join(ledger, "bob", 1)
    give_back(ledger, 1)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)

    ledger.cancel_show(EVENT, at=NOW)

    assert (ada.state, bob.state) == (EntryState.CANCELLED, EntryState.CANCELLED)
    assert ledger.shows[EVENT].ticket_types[TICKETS].offered == 0
    assert isinstance(ledger.offer_facts[-1], OfferEnded)
    assert ledger.offer_facts[-1].outcome is OfferEnd.CANCELLED


def test_offer_ids_are_unique_per_entry() -> None:
    ledger = sold_out()
    entries = [join(ledger, f"fan{n}", 1) for n in range(3)]
    give_back(ledger, 3)
    ledger.make_offers(EVENT, now=NOW, offer_for=OFFER_FOR)
    assert len({e.offer_id for e in entries}) == 3
    assert all(isinstance(e.offer_id, UUID) for e in entries)
