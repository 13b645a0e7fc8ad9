"""The inventory rules over the shows and bookings one batch touches.

The ledger is loaded with the rows a batch needs, decides every message of the batch
in memory, and remembers what changed so the repository writes it in one transaction
and the stock of every ticket type it changed is published once, as it is after the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from inventory.domain.bookings import BookingRecord, BookingState
from inventory.domain.outcomes import (
    UNREMEMBERED_HOLD_REFUSALS,
    BookingLine,
    Refusal,
    ReservationRejected,
    StockChanged,
    StockInitialised,
    TicketsReleased,
    TicketsReserved,
    TicketsSold,
)
from inventory.domain.sale import AccountKey, SaleTerms, purchase_limit_reached
from inventory.domain.stock import (
    HoldWindows,
    ShowInventory,
    ShowStatus,
    StockSnapshot,
    TicketStock,
)
from inventory.domain.waitlist import (
    ENDED_BY,
    EntryState,
    JoinRefusal,
    JoinRefused,
    JoinRequest,
    OfferEnded,
    OfferFact,
    OfferMade,
    TicketTypeChange,
    TicketTypeChangeAnswer,
    WaitlistEntry,
    entries_to_offer,
    in_order,
    offer_id_for,
    waiting_in_order,
)
from ticketing_contracts.events import RejectionReason, ReleaseReason
from ticketing_contracts.events.inventory import OfferEnd

logger = logging.getLogger(__name__)


class AccountTicketsNotLoaded(LookupError):
    """A purchase limit was checked for an account whose tickets the batch did not load."""


class WaitlistNotLoaded(LookupError):
    """A decision needs every open entry of a show's waitlists and they were not loaded."""


class EntryNotFound(LookupError):
    """No such waitlist entry of this account."""


class NoOpenOffer(Exception):
    """The entry has no open offer to decline."""


@dataclass(frozen=True)
class Joined:
    entry: WaitlistEntry
    new: bool


class InventoryLedger:
    """`account_tickets`: for each (event, account) a batch may decide a new booking of
    under a purchase limit, the account's tickets of that event per ticket type (an empty
    mapping: none), as stored; the ledger keeps them up to date as it decides."""

    def __init__(
        self,
        shows: Iterable[ShowInventory] = (),
        bookings: Iterable[BookingRecord] = (),
        account_tickets: Mapping[AccountKey, Mapping[UUID, int]] | None = None,
        *,
        entries: Iterable[WaitlistEntry] = (),
        waitlists_of: Iterable[UUID] = (),
    ) -> None:
        """`entries`: waitlist entries the batch needs; `waitlists_of`: the shows whose
        every open entry is among them (the offer step and the waitlist's own decisions
        need the whole line)."""
        self.shows = {show.event_id: show for show in shows}
        self.bookings = {booking.booking_id: booking for booking in bookings}
        self.account_tickets = {
            key: dict(tickets) for key, tickets in (account_tickets or {}).items()
        }
        self.changed_shows: set[UUID] = set()
        self.new_shows: set[UUID] = set()
        self.changed_bookings: set[UUID] = set()
        self.new_bookings: set[UUID] = set()
        # (event id, ticket type id) of every ticket type whose stock moved.
        self.changed_stock: set[tuple[UUID, UUID]] = set()
        self.entries = {entry.entry_id: entry for entry in entries}
        self.waitlists_loaded = set(waitlists_of)
        self.new_entries: set[UUID] = set()
        self.changed_entries: set[UUID] = set()
        # Offers made and ended, in the order decided: published as facts.
        self.offer_facts: list[OfferFact] = []

    def stock_changes(self) -> list[StockChanged]:
        """One per ticket type whose stock moved, with its stock after all of it."""
        return [
            StockChanged(event_id, self.shows[event_id].ticket_types[ticket_type_id].snapshot())
            for event_id, ticket_type_id in sorted(self.changed_stock)
        ]

    # -- catalog ---------------------------------------------------------------------

    def learn_ticket_types(
        self, event_id: UUID, ticket_types: Iterable[tuple[UUID, int]]
    ) -> list[StockInitialised]:
        show = self._show_or_new(event_id)
        learned = []
        for ticket_type_id, quantity in ticket_types:
            stock = show.learn_ticket_type(ticket_type_id, quantity)
            if stock is not None:
                self._stock_moved(show, stock)
                learned.append(StockInitialised(event_id, stock.snapshot()))
        return learned

    def change_sale(self, event_id: UUID, terms: SaleTerms) -> None:
        show = self._show_or_new(event_id)
        if show.change_sale(terms):
            self._touch(show)

    def change_ticket_type_sale(
        self, event_id: UUID, ticket_type_id: UUID, terms: SaleTerms
    ) -> None:
        show = self.shows.get(event_id)
        if show is not None and show.change_ticket_type_sale(ticket_type_id, terms):
            self._touch(show)

    def change_windows(self, event_id: UUID, windows: HoldWindows) -> None:
        show = self._show_or_new(event_id)
        if show.change_windows(windows):
            self._touch(show)

    def change_ticket_type(
        self,
        event_id: UUID,
        ticket_type_id: UUID,
        *,
        quantity: int,
        sales_closed: bool,
    ) -> None:
        """The ticket type as the organiser left it. A lower quantity was agreed with
        inventory before the fact was stored (so it is usually applied already); one below
        what is taken now cannot come through booking-command, and is kept at what is taken."""
        show = self.shows.get(event_id)
        stock = show.ticket_types.get(ticket_type_id) if show is not None else None
        if show is None or stock is None:
            return
        if quantity < stock.taken:
            logger.warning(
                "a ticket type's quantity below what is taken is kept at what is taken",
                extra={"ticket_type_id": str(ticket_type_id), "asked": quantity},
            )
            quantity = stock.taken
        if stock.change_quantity(quantity):
            self._stock_moved(show, stock)
        if stock.sales_closed != sales_closed:
            stock.sales_closed = sales_closed
            self._touch(show)

    def remove_ticket_type(self, event_id: UUID, ticket_type_id: UUID, *, at: datetime) -> None:
        """The ticket type sells nothing more; its open waitlist entries end `cancelled`."""
        show = self._waitlist_of(event_id)
        stock = show.ticket_types.get(ticket_type_id) if show is not None else None
        if show is None or stock is None or stock.removed:
            return
        self._end_entries(show, at, ticket_type_id=ticket_type_id)
        stock.removed = True
        self._touch(show)

    def answer_change(self, change: TicketTypeChange, *, at: datetime) -> TicketTypeChangeAnswer:
        """booking-command's question before it stores a lower quantity or a removal: a
        lower quantity not below what is sold, held or offered is applied at once (so no
        hold takes the tickets meanwhile); a removal only of a type nothing of is sold,
        held or offered. Raises `KeyError` for an unknown event or ticket type."""
        show = self.shows[change.event_id]
        stock = show.ticket_types[change.ticket_type_id]
        if stock.removed:
            raise KeyError(change.ticket_type_id)
        if change.remove:
            if stock.taken:
                return TicketTypeChangeAnswer.refused("ticket_type_in_use", stock)
            self.remove_ticket_type(change.event_id, change.ticket_type_id, at=at)
            return TicketTypeChangeAnswer.applied(stock)
        if change.quantity is not None and change.quantity < stock.quantity:
            if change.quantity < stock.taken:
                return TicketTypeChangeAnswer.refused("quantity_below_taken", stock)
            stock.change_quantity(change.quantity)
            self._stock_moved(show, stock)
        return TicketTypeChangeAnswer.applied(stock)

    def publish_show(self, event_id: UUID) -> None:
        show = self._show_or_new(event_id)
        if show.publish():
            self._touch(show)

    def cancel_show(self, event_id: UUID, *, at: datetime | None = None) -> None:
        """Cancels the show; its open waitlist entries end `cancelled` when they are loaded
        (`at`: when)."""
        show = self._show_or_new(event_id)
        if show.cancel():
            self._touch(show)
        if at is not None and event_id in self.waitlists_loaded:
            self._end_entries(show, at)

    # -- bookings --------------------------------------------------------------------

    def refusal_for(self, line: BookingLine, *, at: datetime) -> Refusal | None:
        """Why a new booking is refused at time `at` (None: it can be held)."""
        show = self.shows.get(line.event_id)
        if show is None:
            return Refusal(RejectionReason.UNKNOWN_EVENT)
        if show.status is ShowStatus.CANCELLED:
            return Refusal(RejectionReason.EVENT_CANCELLED)
        if show.status is not ShowStatus.ON_SALE:
            return Refusal(RejectionReason.EVENT_NOT_ON_SALE)
        stock = show.ticket_types.get(line.ticket_type_id)
        if stock is None or stock.removed:
            return Refusal(RejectionReason.UNKNOWN_TICKET_TYPE)
        # An offer already made may still be booked: the fan was told so.
        if stock.sales_closed and line.offer_id is None:
            return Refusal(RejectionReason.SALES_CLOSED)
        window = show.sale_window(line.ticket_type_id)
        if not window.is_open(at):
            return Refusal(RejectionReason.NOT_ON_SALE, window)
        if show.has_purchase_limits and line.owner_id is not None:
            reached = purchase_limit_reached(
                show.sale,
                stock.sale,
                line.ticket_type_id,
                line.quantity,
                self.tickets_of((line.event_id, line.owner_id)),
            )
            if reached is not None:
                return Refusal(RejectionReason.PURCHASE_LIMIT_REACHED, reached)
        if line.offer_id is not None:
            return self._offer_refusal(line, at)
        # While the waitlist has open entries general sale gets none: `available` is 0.
        if stock.available == 0:
            return Refusal(RejectionReason.SOLD_OUT)
        if stock.available < line.quantity:
            return Refusal(RejectionReason.NOT_ENOUGH_TICKETS)
        return None

    def _offer_refusal(self, line: BookingLine, at: datetime) -> Refusal | None:
        entry = next((e for e in self.entries.values() if e.offer_id == line.offer_id), None)
        if (
            entry is None
            or not entry.has_open_offer
            or entry.offer_is_due(at)
            or entry.owner_id != line.owner_id
            or entry.event_id != line.event_id
            or entry.ticket_type_id != line.ticket_type_id
            or entry.quantity != line.quantity
        ):
            return Refusal(RejectionReason.OFFER_NOT_VALID)
        return None

    def tickets_of(self, account: AccountKey) -> Mapping[UUID, int]:
        """The account's tickets of the event per ticket type, held or bought."""
        tickets = self.account_tickets.get(account)
        if tickets is None:
            raise AccountTicketsNotLoaded(f"the tickets of {account} were not loaded")
        return tickets

    def request_tickets(
        self, line: BookingLine, *, at: datetime
    ) -> TicketsReserved | ReservationRejected | None:
        """Reserves or rejects a new booking, as of `at` (when it was requested); a booking
        seen before has no second effect.

        The fact of a booking held over HTTP is its claim: the hold is no longer swept.
        A booking whose hold was released unclaimed and that booking-command stored after
        all is decided again like a new request, so the stock never counts tickets a
        stored booking believes it holds as free.
        """
        booking = self.bookings.get(line.booking_id)
        if booking is None:
            return self._reserve_or_reject(line, self.refusal_for(line, at=at))
        if booking.state is BookingState.RELEASED_UNCLAIMED:
            return self._reserve_or_reject(line, self.refusal_for(line, at=at), tombstone=booking)
        self.claim(booking.booking_id)
        return None

    def hold(
        self, line: BookingLine, *, at: datetime, expires_at: datetime, claim_by: datetime
    ) -> TicketsReserved | ReservationRejected | None:
        """Holds tickets at time `at` for a booking booking-command has not stored yet, by
        the rules a booking fact is decided by. The hold waits for that fact (its claim)
        until `claim_by`. A booking seen before changes nothing and returns None;
        `answer_again` tells what it is answered. A refusal that depends on the time or on
        the account's other bookings is answered, not remembered."""
        if line.booking_id in self.bookings:
            return None
        refusal = self.refusal_for(line, at=at)
        if refusal is not None and refusal.reason in UNREMEMBERED_HOLD_REFUSALS:
            return ReservationRejected(line, refusal.reason, self._snapshot(line), refusal.detail)
        outcome = self._reserve_or_reject(line, refusal, at=at)
        if isinstance(outcome, TicketsReserved):
            booking = self.bookings[line.booking_id]
            booking.hold_expires_at = expires_at
            booking.claim_by = claim_by
        return outcome

    def claim(self, booking_id: UUID) -> None:
        """The booking of a hold made over HTTP is stored: its own facts end the hold."""
        booking = self.bookings.get(booking_id)
        if booking is None or booking.claim_by is None:
            return
        booking.claim_by = None
        self._changed(booking)
        # Like every booking write: a sweeper releasing it at the same time collides.
        self._touch(self.shows[booking.event_id])

    def release_unclaimed(self, booking_id: UUID, *, now: datetime) -> TicketsReleased | None:
        """Gives back the tickets of a hold whose booking booking-command does not store,
        once its claim deadline has passed; the booking stays as a tombstone."""
        booking = self.bookings.get(booking_id)
        if booking is None or not booking.awaits_claim:
            return None
        if booking.claim_by is not None and booking.claim_by > now:
            return None
        show, stock = self._stock_of(booking)
        stock.release_reserved(booking.quantity)
        self._transition(booking, BookingState.RELEASED_UNCLAIMED)
        self._stock_moved(show, stock)
        # The public release reasons are a contract; an unclaimed hold ran out of time.
        return TicketsReleased(_line(booking), ReleaseReason.EXPIRED, stock.snapshot())

    def release_not_stored(self, booking_id: UUID) -> TicketsReleased | None:
        """Gives back the tickets, held or sold, of a booking booking-command's event store
        does not hold (restored from a backup that predates it); it stays as a tombstone, so
        a retry of its hold is refused `hold_released`."""
        booking = self.bookings.get(booking_id)
        if booking is None or not booking.takes_tickets:
            return None
        show, stock = self._stock_of(booking)
        if booking.state is BookingState.SOLD:
            stock.release_sold(booking.quantity)
        else:
            stock.release_reserved(booking.quantity)
        self._transition(booking, BookingState.RELEASED_UNCLAIMED)
        self._stock_moved(show, stock)
        return TicketsReleased(_line(booking), ReleaseReason.CANCELLED, stock.snapshot())

    def confirm_booking(self, booking_id: UUID) -> TicketsSold | None:
        booking = self.bookings.get(booking_id)
        if booking is None or booking.state is not BookingState.RESERVED:
            return None
        show, stock = self._stock_of(booking)
        stock.sell_reserved(booking.quantity)
        self._transition(booking, BookingState.SOLD)
        self._stock_moved(show, stock)
        return TicketsSold(_line(booking), stock.snapshot())

    def cancel_booking(self, line: BookingLine) -> TicketsReleased | None:
        """Gives a cancelled booking's tickets back, sold or still reserved, exactly once."""
        booking = self.bookings.get(line.booking_id)
        if booking is None:
            # Never reserved here: remember it so a late request is not reserved.
            self._record(line, BookingState.RELEASED)
            return None
        if booking.state is BookingState.SOLD:
            show, stock = self._stock_of(booking)
            stock.release_sold(booking.quantity)
        elif booking.state is BookingState.RESERVED:
            show, stock = self._stock_of(booking)
            stock.release_reserved(booking.quantity)
        else:
            return None
        self._transition(booking, BookingState.RELEASED)
        self._stock_moved(show, stock)
        return TicketsReleased(_line(booking), ReleaseReason.CANCELLED, stock.snapshot())

    def expire_hold(self, line: BookingLine) -> TicketsReleased | None:
        """Releases a hold that was not confirmed in time, if it still holds tickets."""
        booking = self.bookings.get(line.booking_id)
        if booking is None:
            self._record(line, BookingState.EXPIRED)
            return None
        if booking.state is not BookingState.RESERVED:
            return None
        show, stock = self._stock_of(booking)
        stock.release_reserved(booking.quantity)
        self._transition(booking, BookingState.RELEASED)
        self._stock_moved(show, stock)
        return TicketsReleased(_line(booking), ReleaseReason.EXPIRED, stock.snapshot())

    def release_rejected(self, line: BookingLine) -> TicketsReleased | None:
        """A booking rejected after its reservation (its payment was declined) gives its
        reserved tickets back; one that inventory rejected itself holds none."""
        booking = self.bookings.get(line.booking_id)
        if booking is None:
            self._record(line, BookingState.REJECTED)
            return None
        if booking.state is not BookingState.RESERVED:
            return None
        show, stock = self._stock_of(booking)
        stock.release_reserved(booking.quantity)
        self._transition(booking, BookingState.RELEASED)
        self._stock_moved(show, stock)
        return TicketsReleased(_line(booking), ReleaseReason.REJECTED, stock.snapshot())

    # -- waitlist --------------------------------------------------------------------

    def join_waitlist(
        self, join: JoinRequest, *, entry_id: UUID, at: datetime
    ) -> Joined | JoinRefused:
        """A new place at the back of the ticket type's waitlist, or the account's open one.
        Only while general sale gets none of the ticket type (sold out, or others waiting)."""
        show = self._waitlist_of(join.event_id)
        if show is None:
            return JoinRefused(JoinRefusal.UNKNOWN_EVENT)
        stock = show.ticket_types.get(join.ticket_type_id)
        if stock is None or stock.removed:
            return JoinRefused(JoinRefusal.UNKNOWN_TICKET_TYPE)
        if show.status is ShowStatus.CANCELLED:
            return JoinRefused(JoinRefusal.EVENT_CANCELLED)
        if show.status is not ShowStatus.ON_SALE:
            return JoinRefused(JoinRefusal.EVENT_NOT_ON_SALE)
        if stock.sales_closed:
            return JoinRefused(JoinRefusal.SALES_CLOSED)
        window = show.sale_window(join.ticket_type_id)
        if not window.is_open(at):
            return JoinRefused(JoinRefusal.NOT_ON_SALE, window)
        for entry in self.entries.values():
            if (
                entry.is_open
                and entry.event_id == join.event_id
                and entry.ticket_type_id == join.ticket_type_id
                and entry.owner_id == join.owner_id
            ):
                return Joined(entry, new=False)
        if stock.available:
            return JoinRefused(JoinRefusal.NOT_SOLD_OUT)
        if show.has_purchase_limits:
            reached = purchase_limit_reached(
                show.sale,
                stock.sale,
                join.ticket_type_id,
                join.quantity,
                self.tickets_of((join.event_id, join.owner_id)),
            )
            if reached is not None:
                return JoinRefused(JoinRefusal.PURCHASE_LIMIT_REACHED, reached)
        show.waitlist_joins += 1
        entry = WaitlistEntry(
            entry_id,
            join.event_id,
            join.ticket_type_id,
            join.owner_id,
            join.quantity,
            join.customer_name,
            join.customer_email,
            show.waitlist_joins,
            at,
        )
        self.entries[entry_id] = entry
        self.new_entries.add(entry_id)
        if stock.count_entries(+1):
            self._stock_moved(show, stock)
        self._touch(show)
        return Joined(entry, new=True)

    def leave_waitlist(self, entry_id: UUID, owner_id: str, *, at: datetime) -> WaitlistEntry:
        """Ends the account's entry (`left`; an open offer ends `left` and gives its tickets
        back); an entry that already ended stays as it is. Raises `EntryNotFound`."""
        entry = self._entry_of(entry_id, owner_id)
        show = self.shows[entry.event_id]
        if entry.has_open_offer:
            self._end_offer(show, entry, OfferEnd.LEFT, at=at)
        elif entry.is_waiting:
            self._end_waiting(show, entry, EntryState.LEFT, at)
        return entry

    def decline_offer(self, entry_id: UUID, owner_id: str, *, at: datetime) -> WaitlistEntry:
        """Raises `EntryNotFound`, or `NoOpenOffer` when the entry has no open offer."""
        entry = self._entry_of(entry_id, owner_id)
        if not entry.has_open_offer:
            raise NoOpenOffer(entry_id)
        self._end_offer(self.shows[entry.event_id], entry, OfferEnd.DECLINED, at=at)
        return entry

    def make_offers(self, event_id: UUID, *, now: datetime, offer_for: timedelta) -> None:
        """The offer step of one show: ends the offers due by `now` (their tickets come
        back), then offers the free tickets of each ticket type to its waiting entries in
        order, whole quantities only; `offer_for`: the service's default offer window."""
        show = self._waitlist_of(event_id)
        if show is None:
            return
        for entry in in_order(self._open_entries(event_id)):
            if entry.offer_is_due(now):
                self._end_offer(show, entry, OfferEnd.EXPIRED, at=now)
        if show.status is not ShowStatus.ON_SALE:
            return
        expires_at = now + show.windows.offer_for(offer_for)
        for ticket_type_id, stock in sorted(show.ticket_types.items()):
            if (
                stock.removed
                or stock.sales_closed
                or not stock.open_entries
                or not show.sale_window(ticket_type_id).is_open(now)
            ):
                continue
            waiting = waiting_in_order(self._open_entries(event_id), ticket_type_id)
            for entry in entries_to_offer(stock.free, waiting):
                stock.offer(entry.quantity)
                entry.state = EntryState.OFFERED
                entry.offer_id = offer_id_for(entry.entry_id)
                entry.offer_expires_at = expires_at
                self._entry_changed(entry)
                self._stock_moved(show, stock)
                self.offer_facts.append(OfferMade(entry, entry.offer_id, expires_at))

    def open_entries_of(self, event_id: UUID) -> list[WaitlistEntry]:
        """The show's open entries in order (all of them: the show's waitlist is loaded)."""
        self._waitlist_of(event_id)
        return in_order(self._open_entries(event_id))

    def _open_entries(self, event_id: UUID) -> list[WaitlistEntry]:
        return [e for e in self.entries.values() if e.event_id == event_id and e.is_open]

    def _waitlist_of(self, event_id: UUID) -> ShowInventory | None:
        if event_id not in self.waitlists_loaded:
            raise WaitlistNotLoaded(f"the waitlists of {event_id} were not loaded")
        return self.shows.get(event_id)

    def _entry_of(self, entry_id: UUID, owner_id: str) -> WaitlistEntry:
        entry = self.entries.get(entry_id)
        if entry is None or entry.owner_id != owner_id:
            raise EntryNotFound(entry_id)
        self._waitlist_of(entry.event_id)
        return entry

    def _end_entries(
        self, show: ShowInventory, at: datetime, *, ticket_type_id: UUID | None = None
    ) -> None:
        for entry in in_order(self._open_entries(show.event_id)):
            if ticket_type_id is not None and entry.ticket_type_id != ticket_type_id:
                continue
            if entry.has_open_offer:
                self._end_offer(show, entry, OfferEnd.CANCELLED, at=at)
            else:
                self._end_waiting(show, entry, EntryState.CANCELLED, at)

    def _end_offer(
        self, show: ShowInventory, entry: WaitlistEntry, outcome: OfferEnd, *, at: datetime | None
    ) -> None:
        """Ends the entry's open offer; unless it was booked (its tickets are the booking's
        hold already) its tickets come back for the next entry."""
        assert entry.offer_id is not None
        stock = show.ticket_types[entry.ticket_type_id]
        if outcome is not OfferEnd.ACCEPTED:
            stock.end_offer(entry.quantity)
        self._end_waiting(show, entry, ENDED_BY[outcome], at)
        self._stock_moved(show, stock)
        self.offer_facts.append(OfferEnded(entry, entry.offer_id, outcome))

    def _end_waiting(
        self, show: ShowInventory, entry: WaitlistEntry, state: EntryState, at: datetime | None
    ) -> None:
        entry.state = state
        entry.ended_at = at
        self._entry_changed(entry)
        stock = show.ticket_types[entry.ticket_type_id]
        if stock.count_entries(-1):
            self._stock_moved(show, stock)
        self._touch(show)

    def _entry_changed(self, entry: WaitlistEntry) -> None:
        if entry.entry_id not in self.new_entries:
            self.changed_entries.add(entry.entry_id)

    # -- helpers ---------------------------------------------------------------------

    def _reserve_or_reject(
        self,
        line: BookingLine,
        refusal: Refusal | None,
        *,
        tombstone: BookingRecord | None = None,
        at: datetime | None = None,
    ) -> TicketsReserved | ReservationRejected:
        if refusal is not None:
            self._record(line, BookingState.REJECTED, refusal.reason, tombstone=tombstone)
            return ReservationRejected(line, refusal.reason, self._snapshot(line), refusal.detail)
        show = self.shows[line.event_id]
        stock = show.ticket_types[line.ticket_type_id]
        if line.offer_id is not None:
            entry = next(e for e in self.entries.values() if e.offer_id == line.offer_id)
            stock.take_offered(line.quantity)
            self._end_offer(show, entry, OfferEnd.ACCEPTED, at=at)
        else:
            stock.reserve(line.quantity)
        self._stock_moved(show, stock)
        self._record(line, BookingState.RESERVED, tombstone=tombstone)
        return TicketsReserved(line, stock.snapshot())

    def _show_or_new(self, event_id: UUID) -> ShowInventory:
        show = self.shows.get(event_id)
        if show is None:
            show = ShowInventory(event_id)
            self.shows[event_id] = show
            self.new_shows.add(event_id)
        return show

    def _stock_moved(self, show: ShowInventory, stock: TicketStock) -> None:
        self.changed_stock.add((show.event_id, stock.ticket_type_id))
        self._touch(show)

    def _touch(self, show: ShowInventory) -> None:
        if show.event_id not in self.changed_shows:
            show.version += 1
            self.changed_shows.add(show.event_id)

    def _record(
        self,
        line: BookingLine,
        state: BookingState,
        reason: RejectionReason | None = None,
        *,
        tombstone: BookingRecord | None = None,
    ) -> None:
        if tombstone is not None:
            tombstone.rejection_reason = reason
            if tombstone.owner_id is None:
                tombstone.owner_id = line.owner_id
            self._transition(tombstone, state)
        else:
            booking = BookingRecord(
                line.booking_id,
                line.event_id,
                line.ticket_type_id,
                line.quantity,
                state,
                reason,
                owner_id=line.owner_id,
            )
            self.bookings[line.booking_id] = booking
            self.new_bookings.add(line.booking_id)
            self._count(booking, took_tickets=False)
        show = self.shows.get(line.event_id)
        if show is not None:
            # Every booking write bumps its show's version, so concurrent writers collide.
            self._touch(show)

    def _transition(self, booking: BookingRecord, state: BookingState) -> None:
        took_tickets = booking.takes_tickets
        booking.state = state
        # Only a stored booking's facts or the sweeper move a booking on: no claim awaited.
        booking.claim_by = None
        self._changed(booking)
        self._count(booking, took_tickets=took_tickets)

    def _count(self, booking: BookingRecord, *, took_tickets: bool) -> None:
        """Keeps the loaded tickets of the booking's account as its new state has them."""
        change = (int(booking.takes_tickets) - int(took_tickets)) * booking.quantity
        if not change or booking.owner_id is None:
            return
        tickets = self.account_tickets.get((booking.event_id, booking.owner_id))
        if tickets is not None:
            tickets[booking.ticket_type_id] = tickets.get(booking.ticket_type_id, 0) + change

    def _changed(self, booking: BookingRecord) -> None:
        if booking.booking_id not in self.new_bookings:
            self.changed_bookings.add(booking.booking_id)

    def _stock_of(self, booking: BookingRecord) -> tuple[ShowInventory, TicketStock]:
        show = self.shows[booking.event_id]
        return show, show.ticket_types[booking.ticket_type_id]

    def _snapshot(self, line: BookingLine) -> StockSnapshot | None:
        show = self.shows.get(line.event_id)
        stock = show.ticket_types.get(line.ticket_type_id) if show is not None else None
        return stock.snapshot() if stock is not None else None


def _line(booking: BookingRecord) -> BookingLine:
    return BookingLine(
        booking.booking_id,
        booking.event_id,
        booking.ticket_type_id,
        booking.quantity,
        booking.owner_id,
    )
