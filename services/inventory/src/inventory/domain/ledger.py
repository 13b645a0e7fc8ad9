"""The inventory rules over the shows and bookings one batch touches.

The ledger is loaded with the rows a batch needs, decides every message of the batch
in memory, and remembers what changed so the repository writes it in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from inventory.domain.bookings import BookingRecord, BookingState
from inventory.domain.outcomes import (
    BookingLine,
    ReservationRejected,
    StockInitialised,
    TicketsReleased,
    TicketsReserved,
    TicketsSold,
)
from inventory.domain.stock import ShowInventory, ShowStatus, StockSnapshot, TicketStock
from ticketing_contracts.events import RejectionReason, ReleaseReason


class InventoryLedger:
    def __init__(
        self, shows: Iterable[ShowInventory] = (), bookings: Iterable[BookingRecord] = ()
    ) -> None:
        self.shows = {show.event_id: show for show in shows}
        self.bookings = {booking.booking_id: booking for booking in bookings}
        self.changed_shows: set[UUID] = set()
        self.new_shows: set[UUID] = set()
        self.changed_bookings: set[UUID] = set()
        self.new_bookings: set[UUID] = set()

    # -- catalog ---------------------------------------------------------------------

    def learn_ticket_types(
        self, event_id: UUID, ticket_types: Iterable[tuple[UUID, int]]
    ) -> list[StockInitialised]:
        show = self._show_or_new(event_id)
        learned = []
        for ticket_type_id, quantity in ticket_types:
            stock = show.learn_ticket_type(ticket_type_id, quantity)
            if stock is not None:
                learned.append(StockInitialised(event_id, stock.snapshot()))
        if learned:
            self._touch(show)
        return learned

    def publish_show(self, event_id: UUID) -> None:
        show = self._show_or_new(event_id)
        if show.publish():
            self._touch(show)

    def cancel_show(self, event_id: UUID) -> None:
        show = self._show_or_new(event_id)
        if show.cancel():
            self._touch(show)

    # -- bookings --------------------------------------------------------------------

    def rejection_for(self, line: BookingLine) -> RejectionReason | None:
        show = self.shows.get(line.event_id)
        if show is None:
            return RejectionReason.UNKNOWN_EVENT
        if show.status is ShowStatus.CANCELLED:
            return RejectionReason.EVENT_CANCELLED
        if show.status is not ShowStatus.ON_SALE:
            return RejectionReason.EVENT_NOT_ON_SALE
        stock = show.ticket_types.get(line.ticket_type_id)
        if stock is None:
            return RejectionReason.UNKNOWN_TICKET_TYPE
        if stock.available == 0:
            return RejectionReason.SOLD_OUT
        if stock.available < line.quantity:
            return RejectionReason.NOT_ENOUGH_TICKETS
        return None

    def request_tickets(self, line: BookingLine) -> TicketsReserved | ReservationRejected | None:
        """Reserves or rejects a new booking; a booking seen before has no second effect."""
        if line.booking_id in self.bookings:
            return None
        reason = self.rejection_for(line)
        if reason is not None:
            self._record(line, BookingState.REJECTED)
            return ReservationRejected(line, reason, self._snapshot(line))
        show = self.shows[line.event_id]
        stock = show.ticket_types[line.ticket_type_id]
        stock.reserve(line.quantity)
        self._touch(show)
        self._record(line, BookingState.RESERVED)
        return TicketsReserved(line, stock.snapshot())

    def confirm_booking(self, booking_id: UUID) -> TicketsSold | None:
        booking = self.bookings.get(booking_id)
        if booking is None or booking.state is not BookingState.RESERVED:
            return None
        show, stock = self._stock_of(booking)
        stock.sell_reserved(booking.quantity)
        self._transition(booking, BookingState.SOLD)
        self._touch(show)
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
        self._touch(show)
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
        self._touch(show)
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
        self._touch(show)
        return TicketsReleased(_line(booking), ReleaseReason.REJECTED, stock.snapshot())

    # -- helpers ---------------------------------------------------------------------

    def _show_or_new(self, event_id: UUID) -> ShowInventory:
        show = self.shows.get(event_id)
        if show is None:
            show = ShowInventory(event_id)
            self.shows[event_id] = show
            self.new_shows.add(event_id)
        return show

    def _touch(self, show: ShowInventory) -> None:
        if show.event_id not in self.changed_shows:
            show.version += 1
            self.changed_shows.add(show.event_id)

    def _record(self, line: BookingLine, state: BookingState) -> None:
        self.bookings[line.booking_id] = BookingRecord(
            line.booking_id, line.event_id, line.ticket_type_id, line.quantity, state
        )
        self.new_bookings.add(line.booking_id)
        show = self.shows.get(line.event_id)
        if show is not None:
            # Every booking write bumps its show's version, so concurrent writers collide.
            self._touch(show)

    def _transition(self, booking: BookingRecord, state: BookingState) -> None:
        booking.state = state
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
        booking.booking_id, booking.event_id, booking.ticket_type_id, booking.quantity
    )
