"""A booking's tickets: the list, the printable PDF, and re-issuing one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from entry.application.access import (
    check_admin,
    check_may_print,
    check_sees_booking,
)
from entry.application.ports import BookingInfo, StoredTicket, TicketSigner, TicketStore
from entry.domain.tickets import new_code
from service_kit.errors import ConflictError, NotFoundError
from service_kit.internal_auth import Caller
from ticketing_contracts.tickets import BookingTickets, Ticket

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BookingTicketsQueries:
    def __init__(
        self,
        store: TicketStore,
        signer: TicketSigner,
        render_pdf: Callable[[BookingTickets], bytes],
    ) -> None:
        self._store = store
        self._signer = signer
        self._render_pdf = render_pdf

    async def tickets(self, booking_id: UUID, caller: Caller) -> BookingTickets:
        booking = await self._booking(booking_id)
        check_sees_booking(caller, booking)
        return await self._tickets(booking)

    async def pdf(self, booking_id: UUID, caller: Caller) -> bytes:
        """One page per valid ticket."""
        booking = await self._booking(booking_id)
        check_may_print(caller, booking)
        tickets = await self._tickets(booking)
        valid = [ticket for ticket in tickets.tickets if ticket.status != "voided"]
        if not valid:
            raise ConflictError(
                f"Booking {booking_id} has no valid tickets", error_type="no_valid_tickets"
            )
        return self._render_pdf(tickets.model_copy(update={"tickets": valid}))

    async def _booking(self, booking_id: UUID) -> BookingInfo:
        booking = await self._store.booking(booking_id)
        if booking is None:
            raise _not_issued(booking_id)
        return booking

    async def _tickets(self, booking: BookingInfo) -> BookingTickets:
        event = await self._store.event(booking.event_id)
        stored = await self._store.tickets_of_booking(booking.booking_id)
        # Catalog facts come on another topic: until the event and its ticket types are
        # known here, the tickets cannot be printed with their names.
        if event is None or any(ticket.ticket_type_name is None for ticket in stored):
            raise _not_issued(booking.booking_id)
        return BookingTickets(
            booking_id=booking.booking_id,
            event_id=event.event_id,
            event_name=event.name,
            event_starts_at=event.starts_at,
            tickets=[ticket_body(ticket, self._signer) for ticket in stored],
        )


class ReissueTicket:
    """A new code for a ticket (lost, or passed on); the old one answers voided/reissued."""

    def __init__(self, store: TicketStore, signer: TicketSigner, clock: Clock = _utc_now) -> None:
        self._store = store
        self._signer = signer
        self._clock = clock

    async def __call__(self, ticket_id: UUID, caller: Caller) -> Ticket:
        check_admin(caller, "re-issue tickets")
        if not await self._store.replace_code(ticket_id, new_code(), self._clock()):
            ticket = await self._store.ticket(ticket_id)
            if ticket is None:
                raise NotFoundError(f"Ticket {ticket_id} not found", error_type="ticket_not_found")
            if ticket.status == "voided":
                raise ConflictError(
                    f"Ticket {ticket_id} is voided ({ticket.voided_reason})",
                    error_type="ticket_voided",
                )
            raise ConflictError(
                f"Ticket {ticket_id} was checked in at {ticket.checked_in_at}",
                error_type="ticket_checked_in",
            )
        reissued = await self._store.ticket(ticket_id)
        if reissued is None or reissued.ticket_type_name is None:
            raise NotFoundError(f"Ticket {ticket_id} not found", error_type="ticket_not_found")
        return ticket_body(reissued, self._signer)


def ticket_body(ticket: StoredTicket, signer: TicketSigner) -> Ticket:
    return Ticket(
        ticket_id=ticket.ticket_id,
        booking_id=ticket.booking_id,
        event_id=ticket.event_id,
        ticket_type_id=ticket.ticket_type_id,
        ticket_type_name=ticket.ticket_type_name or "",
        holder_name=ticket.holder_name,
        code=ticket.code,
        qr_payload=signer.payload(ticket.event_id, ticket.code),
        status=ticket.status,
        issued_at=ticket.issued_at,
        checked_in_at=ticket.checked_in_at,
        entrance=ticket.entrance,
        voided_reason=ticket.voided_reason,
    )


def _not_issued(booking_id: UUID) -> NotFoundError:
    return NotFoundError(
        f"Booking {booking_id} has no tickets (yet): they are issued once it is confirmed",
        error_type="tickets_not_issued",
    )
