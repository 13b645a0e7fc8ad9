"""The inventory rules over the shows and bookings one batch touches.

The ledger is loaded with the rows a batch needs, decides every message of the batch
in memory, and remembers what changed so the repository writes it in one transaction
and the stock of every ticket type it changed is published once, as it is after the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
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
from inventory.domain.stock import ShowInventory, ShowStatus, StockSnapshot, TicketStock
from ticketing_contracts.events import RejectionReason, ReleaseReason


class AccountTicketsNotLoaded(LookupError):
    """A purchase limit was checked for an account whose tickets the batch did not load."""


class InventoryLedger:
    """`account_tickets`: for each (event, account) a batch may decide a new booking of
    under a purchase limit, the account's tickets of that event per ticket type (an empty
    mapping: none), as stored; the ledger keeps them up to date as it decides."""

    def __init__(
        self,
        shows: Iterable[ShowInventory] = (),
        bookings: Iterable[BookingRecord] = (),
        account_tickets: Mapping[AccountKey, Mapping[UUID, int]] | None = None,
    ) -> None:
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

    def publish_show(self, event_id: UUID) -> None:
        show = self._show_or_new(event_id)
        if show.publish():
            self._touch(show)

    def cancel_show(self, event_id: UUID) -> None:
        show = self._show_or_new(event_id)
        if show.cancel():
            self._touch(show)

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
        if stock is None:
            return Refusal(RejectionReason.UNKNOWN_TICKET_TYPE)
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
        if stock.available == 0:
            return Refusal(RejectionReason.SOLD_OUT)
        if stock.available < line.quantity:
            return Refusal(RejectionReason.NOT_ENOUGH_TICKETS)
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
        outcome = self._reserve_or_reject(line, refusal)
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

    # -- helpers ---------------------------------------------------------------------

    def _reserve_or_reject(
        self,
        line: BookingLine,
        refusal: Refusal | None,
        *,
        tombstone: BookingRecord | None = None,
    ) -> TicketsReserved | ReservationRejected:
        if refusal is not None:
            self._record(line, BookingState.REJECTED, refusal.reason, tombstone=tombstone)
            return ReservationRejected(line, refusal.reason, self._snapshot(line), refusal.detail)
        show = self.shows[line.event_id]
        stock = show.ticket_types[line.ticket_type_id]
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
