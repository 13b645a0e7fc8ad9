"""Tickets and entry: a booking's tickets (and their PDF), re-issue, door staff, check-in.

Entry answers every route; the gateway checks the caller's global role where one decides
(assigning door staff: managers and admins; re-issue: admins) and the body's shape (a bad
one is a 422 here and never reaches entry). Scanning needs a logged-in caller only: entry
knows who is door staff of which event and answers 403 `not_door_staff` to anyone else.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from gateway.entrypoints.http.deps import (
    API_PREFIX,
    CatalogManager,
    CurrentCaller,
    DefaultRateLimit,
    IfNoneMatch,
    Services,
    TicketReissuer,
)
from gateway.entrypoints.http.responses import NO_STORE, PRIVATE, passed_on, query_response
from service_kit.http_errors import error_responses
from ticketing_contracts.tickets import (
    MAX_SCANS_PER_SYNC,
    BookingTickets,
    CheckInProgress,
    DoorStaff,
    ScanAnswer,
    ScannerData,
    ScanRequest,
    ScanSync,
    ScanSyncAnswer,
    Ticket,
)

router = APIRouter(prefix=API_PREFIX, tags=["tickets"], dependencies=[DefaultRateLimit])

READ_ERRORS = error_responses(401, 404, 422, 429, 503)
DOOR_ERRORS = error_responses(401, 403, 404, 422, 429, 503)
SCAN_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 429, 503)
DOOR_STAFF_ONLY = (
    "For the event's door staff, managers and admins; anyone else 403 `not_door_staff`. "
    "An event entry has not heard of answers 404 `event_not_found`."
)
UserId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:@-]+$",
        description="The account's id (any role)",
    ),
]
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "description": "One page per valid ticket: its QR code, event, ticket type, holder, code",
    }
}


@router.get(
    "/bookings/{booking_id}/tickets",
    response_model=BookingTickets,
    summary="The tickets of one of your bookings, with their codes and QR payloads",
    description="Someone else's booking answers 404 `booking_not_found` (admins see any). "
    "Until the booking is confirmed and its tickets issued: 404 `tickets_not_issued` (try "
    "again shortly). Voided tickets are listed with their status and reason.",
    responses=READ_ERRORS,
)
async def booking_tickets(
    booking_id: uuid.UUID,
    caller: CurrentCaller,
    services: Services,
    if_none_match: IfNoneMatch = None,
) -> Response:
    result = await services.tickets.booking_tickets(caller, booking_id)
    return query_response(result, if_none_match=if_none_match, cache_control=PRIVATE)


@router.get(
    "/bookings/{booking_id}/tickets.pdf",
    response_class=Response,
    summary="The tickets of one of your bookings as a PDF to print or show at the door",
    description="Voided tickets are left out; 409 `no_valid_tickets` when none is valid. "
    "404 as for the tickets' list.",
    responses={**PDF_RESPONSE, **error_responses(401, 404, 409, 422, 429, 503)},
)
async def booking_tickets_pdf(
    booking_id: uuid.UUID, caller: CurrentCaller, services: Services
) -> Response:
    result = await services.tickets.booking_tickets_pdf(caller, booking_id)
    return Response(
        result.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="tickets-{booking_id}.pdf"',
            "Cache-Control": NO_STORE,
        },
    )


@router.post(
    "/tickets/{ticket_id}/reissue",
    response_model=Ticket,
    summary="Give a ticket a new code (admin); the old code is refused at the door",
    description="The ticket keeps its id; its old code answers `voided` (reason `reissued`) "
    "at the door. 409 `ticket_voided` for a voided ticket, 409 `ticket_checked_in` for one "
    "already checked in.",
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
async def reissue_ticket(
    ticket_id: uuid.UUID, caller: TicketReissuer, services: Services
) -> Response:
    return passed_on(await services.tickets.reissue(caller, ticket_id))


@router.get(
    "/events/{event_id}/door-staff",
    response_model=DoorStaff,
    summary="Who may check tickets in at an event (manager, admin)",
    responses=DOOR_ERRORS,
)
async def door_staff(event_id: uuid.UUID, caller: CatalogManager, services: Services) -> Response:
    return passed_on(await services.tickets.door_staff(caller, event_id))


@router.put(
    "/events/{event_id}/door-staff/{user_id}",
    status_code=204,
    summary="Let an account check tickets in at an event (manager, admin)",
    description="Any account can be door staff of an event, whatever its role; the role is "
    "for that event only. Assigning an account twice changes nothing.",
    responses=DOOR_ERRORS,
)
async def assign_door_staff(
    event_id: uuid.UUID, user_id: UserId, caller: CatalogManager, services: Services
) -> Response:
    await services.tickets.assign_door_staff(caller, event_id, user_id)
    return Response(status_code=204, headers={"Cache-Control": NO_STORE})


@router.delete(
    "/events/{event_id}/door-staff/{user_id}",
    status_code=204,
    summary="Stop an account checking tickets in at an event (manager, admin)",
    responses=DOOR_ERRORS,
)
async def remove_door_staff(
    event_id: uuid.UUID, user_id: UserId, caller: CatalogManager, services: Services
) -> Response:
    await services.tickets.remove_door_staff(caller, event_id, user_id)
    return Response(status_code=204, headers={"Cache-Control": NO_STORE})


@router.post(
    "/events/{event_id}/check-ins",
    response_model=ScanAnswer,
    summary="Check a ticket in at the door, by its code or its QR payload",
    description="Every scan answers 200; `result` says what to do: `admitted` (holder and "
    "ticket type), `already_checked_in` (when and at which entrance), `voided` (with the "
    "reason; an old code of a re-issued ticket says `reissued`), `wrong_event` (a ticket of "
    "another event), `not_a_ticket` (an unknown code, or a QR payload whose signature does "
    "not hold). Two doors scanning the same ticket at once admit it once. " + DOOR_STAFF_ONLY,
    responses=SCAN_ERRORS,
)
async def check_in(
    event_id: uuid.UUID, body: ScanRequest, caller: CurrentCaller, services: Services
) -> Response:
    return passed_on(await services.tickets.check_in(caller, event_id, body))


@router.post(
    "/events/{event_id}/check-ins/sync",
    response_model=ScanSyncAnswer,
    summary="Send the scans a scanner made offline; each answer says whether it conflicts",
    description="Scans are applied in `scanned_at` order, up to "
    f"{MAX_SCANS_PER_SYNC} per call (and within the request size limit: a few hundred with "
    "QR payloads). A `scan_id` sent again answers as the first time, so a sync can be "
    "repeated safely. `conflict` is true where the scanner admitted someone the answer "
    "does not admit (checked in elsewhere first, voided, not a ticket). " + DOOR_STAFF_ONLY,
    responses=SCAN_ERRORS,
)
async def sync_check_ins(
    event_id: uuid.UUID, body: ScanSync, caller: CurrentCaller, services: Services
) -> Response:
    return passed_on(await services.tickets.sync_check_ins(caller, event_id, body))


@router.get(
    "/events/{event_id}/scanner-data",
    response_model=ScannerData,
    summary="What a scanner downloads to check tickets in offline",
    description="The event's Ed25519 public key (to verify QR payloads without a network) "
    "and its tickets with their status (to refuse voided codes and check typed ones). "
    + DOOR_STAFF_ONLY,
    responses=DOOR_ERRORS,
)
async def scanner_data(event_id: uuid.UUID, caller: CurrentCaller, services: Services) -> Response:
    return passed_on(await services.tickets.scanner_data(caller, event_id))


@router.get(
    "/events/{event_id}/check-in-progress",
    response_model=CheckInProgress,
    summary="How many of an event's tickets are checked in, per ticket type",
    description=DOOR_STAFF_ONLY,
    responses=DOOR_ERRORS,
)
async def check_in_progress(
    event_id: uuid.UUID, caller: CurrentCaller, services: Services
) -> Response:
    return passed_on(await services.tickets.check_in_progress(caller, event_id))
