"""A booking's tickets and re-issuing one."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from entry.entrypoints.http.deps import BookingTicketsDep, ReissueDep
from service_kit.http_errors import error_responses
from service_kit.internal_auth import InternalCaller, VerifiedCaller
from ticketing_contracts.tickets import BookingTickets, Ticket

router = APIRouter(prefix="/internal/v1", tags=["tickets"])
# The PDF is also fetched by the notifications service with its own token.
service_router = APIRouter(prefix="/internal/v1", tags=["tickets"])


@router.get(
    "/bookings/{booking_id}/tickets",
    summary="A booking's tickets, voided ones with their status",
    description=(
        "For the booking's owner and admins; anyone else gets 404 `booking_not_found`. "
        "404 `tickets_not_issued` until the booking is confirmed (and its event known here)."
    ),
    response_model=BookingTickets,
    responses=error_responses(404, 422),
)
async def booking_tickets(
    booking_id: UUID, caller: InternalCaller, tickets: BookingTicketsDep
) -> BookingTickets:
    return await tickets.tickets(booking_id, caller)


@service_router.get(
    "/bookings/{booking_id}/tickets.pdf",
    summary="A booking's valid tickets as a PDF, one page per ticket with its QR code",
    description=(
        "For the booking's owner and admins (through the gateway) and the notifications "
        "service; anyone else gets 404 `booking_not_found`, another service 403. 409 "
        "`no_valid_tickets` when every ticket is voided."
    ),
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The tickets"},
        **error_responses(403, 404, 409, 422),
    },
)
async def booking_tickets_pdf(
    booking_id: UUID, caller: VerifiedCaller, tickets: BookingTicketsDep
) -> Response:
    document = await tickets.pdf(booking_id, caller)
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="tickets-{booking_id}.pdf"'},
    )


@router.post(
    "/tickets/{ticket_id}/reissue",
    summary="Give a ticket a new code (admins); the old code answers voided/reissued",
    description=(
        "409 `ticket_voided` for a voided ticket, 409 `ticket_checked_in` for one already "
        "checked in, 404 `ticket_not_found`."
    ),
    response_model=Ticket,
    responses=error_responses(403, 404, 409, 422),
)
async def reissue_ticket(ticket_id: UUID, caller: InternalCaller, reissue: ReissueDep) -> Ticket:
    return await reissue(ticket_id, caller)
