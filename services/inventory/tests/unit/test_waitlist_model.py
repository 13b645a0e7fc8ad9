"""The waitlist under random interleavings (a hypothesis state machine over the ledger):
tickets returned by cancelled, expired and declined bookings, fans joining, booking and
declining offers, leaving, offers expiring as time moves, quantities raised and lowered.
After every step: nothing oversold, offered tickets are exactly the open offers, no entry
offered twice, nobody offered tickets while someone who joined earlier still waits, and
after an offer step the free tickets never cover the first waiting entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from inventory.domain.bookings import BookingState
from inventory.domain.ledger import InventoryLedger
from inventory.domain.outcomes import BookingLine, ReservationRejected, TicketsReserved
from inventory.domain.stock import ShowInventory, ShowStatus, TicketStock
from inventory.domain.waitlist import (
    EntryState,
    JoinRequest,
    OfferMade,
    TicketTypeChange,
    waiting_in_order,
)
from ticketing_contracts.events import RejectionReason

EVENT = UUID("00000000-0000-4000-8000-000000000001")
TICKET_TYPES = (
    UUID("00000000-0000-4000-8000-0000000000a1"),
    UUID("00000000-0000-4000-8000-0000000000a2"),
)
FANS = tuple(f"fan-{n}" for n in range(6))
OFFER_FOR = timedelta(minutes=10)
HOLD_FOR = timedelta(minutes=5)

ticket_types = st.sampled_from(TICKET_TYPES)
fans = st.sampled_from(FANS)
quantities = st.integers(min_value=1, max_value=4)


class WaitlistMachine(RuleBasedStateMachine):
    @initialize(first=st.integers(1, 8), second=st.integers(1, 8))
    def on_sale(self, first: int, second: int) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)
        show = ShowInventory(
            EVENT,
            ShowStatus.ON_SALE,
            {
                TICKET_TYPES[0]: TicketStock(TICKET_TYPES[0], first),
                TICKET_TYPES[1]: TicketStock(TICKET_TYPES[1], second),
            },
        )
        self.ledger = InventoryLedger([show], waitlists_of=[EVENT])
        self.facts_seen = 0
        self.offered_once: set[UUID] = set()
        self.ids = 0

    # -- what fans and bookings do ---------------------------------------------------

    @rule(ticket_type_id=ticket_types, quantity=quantities, owner=fans)
    def book_in_general_sale(self, ticket_type_id: UUID, quantity: int, owner: str) -> None:
        waitlist_open = any(
            e.is_open and e.ticket_type_id == ticket_type_id for e in self.ledger.entries.values()
        )
        outcome = self._hold(BookingLine(self._new_id(), EVENT, ticket_type_id, quantity, owner))
        if waitlist_open:
            assert isinstance(outcome, ReservationRejected)
            assert outcome.reason is RejectionReason.SOLD_OUT

    @rule(ticket_type_id=ticket_types, quantity=quantities, owner=fans)
    def join(self, ticket_type_id: UUID, quantity: int, owner: str) -> None:
        request = JoinRequest(EVENT, ticket_type_id, owner, quantity, "Fan", "fan@example.org")
        self.ledger.join_waitlist(request, entry_id=self._new_id(), at=self.now)

    @precondition(lambda self: self._offered())
    @rule(data=st.data())
    def book_the_offer(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self._offered()))
        line = BookingLine(
            self._new_id(),
            EVENT,
            entry.ticket_type_id,
            entry.quantity,
            entry.owner_id,
            entry.offer_id,
        )
        outcome = self._hold(line)
        assert isinstance(outcome, TicketsReserved)
        assert entry.state is EntryState.ACCEPTED

    @precondition(lambda self: self._offered())
    @rule(data=st.data(), owner=fans)
    def someone_else_books_an_offer(self, data: st.DataObject, owner: str) -> None:
        entry = data.draw(st.sampled_from(self._offered()))
        if owner == entry.owner_id:
            return
        line = BookingLine(
            self._new_id(), EVENT, entry.ticket_type_id, entry.quantity, owner, entry.offer_id
        )
        outcome = self._hold(line)
        assert isinstance(outcome, ReservationRejected)
        assert outcome.reason is RejectionReason.OFFER_NOT_VALID
        assert entry.state is EntryState.OFFERED

    @precondition(lambda self: self._offered())
    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self._offered()))
        self.ledger.decline_offer(entry.entry_id, entry.owner_id, at=self.now)

    @precondition(lambda self: self._open())
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self._open()))
        self.ledger.leave_waitlist(entry.entry_id, entry.owner_id, at=self.now)

    @precondition(lambda self: self._bookings(BookingState.RESERVED, BookingState.SOLD))
    @rule(data=st.data(), how=st.sampled_from(["cancel", "expire", "decline_payment"]))
    def tickets_come_back(self, data: st.DataObject, how: str) -> None:
        booking = data.draw(
            st.sampled_from(self._bookings(BookingState.RESERVED, BookingState.SOLD))
        )
        line = BookingLine(
            booking.booking_id, EVENT, booking.ticket_type_id, booking.quantity, booking.owner_id
        )
        if how == "cancel":
            self.ledger.cancel_booking(line)
        elif how == "expire":
            self.ledger.expire_hold(line)
        else:
            self.ledger.release_rejected(line)

    @precondition(lambda self: self._bookings(BookingState.RESERVED))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        booking = data.draw(st.sampled_from(self._bookings(BookingState.RESERVED)))
        self.ledger.confirm_booking(booking.booking_id)

    @rule(ticket_type_id=ticket_types, more=st.integers(1, 4))
    def organiser_raises_the_quantity(self, ticket_type_id: UUID, more: int) -> None:
        stock = self._stock(ticket_type_id)
        self.ledger.change_ticket_type(
            EVENT, ticket_type_id, quantity=stock.quantity + more, sales_closed=False
        )

    @rule(ticket_type_id=ticket_types, fewer=st.integers(1, 4))
    def organiser_asks_for_a_lower_quantity(self, ticket_type_id: UUID, fewer: int) -> None:
        stock = self._stock(ticket_type_id)
        asked = max(1, stock.quantity - fewer)
        taken = stock.taken
        answer = self.ledger.answer_change(
            TicketTypeChange(EVENT, ticket_type_id, quantity=asked), at=self.now
        )
        assert answer.is_applied == (asked >= taken)
        assert stock.quantity == (asked if asked >= taken else stock.quantity)

    @rule(seconds=st.integers(1, 900))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def offer_step(self) -> None:
        self.ledger.make_offers(EVENT, now=self.now, offer_for=OFFER_FOR)
        self._check_new_offers()
        for ticket_type_id in TICKET_TYPES:
            waiting = waiting_in_order(self.ledger.entries.values(), ticket_type_id)
            if waiting:
                assert waiting[0].quantity > self._stock(ticket_type_id).free
            assert not any(e.offer_is_due(self.now) for e in self.ledger.entries.values())

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def nothing_oversold_and_offers_add_up(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for ticket_type_id in TICKET_TYPES:
            stock = self._stock(ticket_type_id)
            assert min(stock.reserved, stock.sold, stock.offered) >= 0
            assert stock.reserved + stock.sold + stock.offered <= stock.quantity
            entries = [
                e for e in self.ledger.entries.values() if e.ticket_type_id == ticket_type_id
            ]
            assert stock.offered == sum(e.quantity for e in entries if e.has_open_offer)
            assert stock.open_entries == sum(1 for e in entries if e.is_open)
            bookings = [
                b for b in self.ledger.bookings.values() if b.ticket_type_id == ticket_type_id
            ]
            assert stock.reserved == sum(
                b.quantity for b in bookings if b.state is BookingState.RESERVED
            )
            assert stock.sold == sum(b.quantity for b in bookings if b.state is BookingState.SOLD)

    @invariant()
    def one_open_entry_per_fan_and_ticket_type(self) -> None:
        if not hasattr(self, "ledger"):
            return
        open_places = [(e.ticket_type_id, e.owner_id) for e in self._open()]
        assert len(open_places) == len(set(open_places))

    @invariant()
    def offers_in_order_and_once(self) -> None:
        if hasattr(self, "ledger"):
            self._check_new_offers()

    # -- helpers ---------------------------------------------------------------------

    def _check_new_offers(self) -> None:
        for fact in self.ledger.offer_facts[self.facts_seen :]:
            if isinstance(fact, OfferMade):
                entry = fact.entry
                assert entry.entry_id not in self.offered_once, "offered twice"
                self.offered_once.add(entry.entry_id)
                assert not any(
                    other.is_waiting
                    and other.ticket_type_id == entry.ticket_type_id
                    and other.number < entry.number
                    for other in self.ledger.entries.values()
                ), "an earlier entry still waits"
        self.facts_seen = len(self.ledger.offer_facts)

    def _hold(self, line: BookingLine) -> TicketsReserved | ReservationRejected | None:
        self.ledger.account_tickets.setdefault((EVENT, line.owner_id or ""), {})
        return self.ledger.hold(
            line, at=self.now, expires_at=self.now + HOLD_FOR, claim_by=self.now + HOLD_FOR
        )

    def _new_id(self) -> UUID:
        """Ids in creation order: hypothesis replays a run, so nothing may be random."""
        self.ids += 1
        return UUID(int=self.ids)

    def _stock(self, ticket_type_id: UUID) -> TicketStock:
        return self.ledger.shows[EVENT].ticket_types[ticket_type_id]

    def _open(self) -> list:  # type: ignore[type-arg]
        return sorted(
            (e for e in self.ledger.entries.values() if e.is_open), key=lambda e: e.number
        )

    def _offered(self) -> list:  # type: ignore[type-arg]
        return [e for e in self._open() if e.has_open_offer and not e.offer_is_due(self.now)]

    def _bookings(self, *states: BookingState) -> list:  # type: ignore[type-arg]
        return sorted(
            (b for b in self.ledger.bookings.values() if b.state in states),
            key=lambda b: b.booking_id,
        )


WaitlistMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_waitlist_under_random_interleavings = WaitlistMachine.TestCase
