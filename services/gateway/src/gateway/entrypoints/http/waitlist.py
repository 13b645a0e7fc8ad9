"""The waitlist of a sold-out ticket type: join with the quantity wanted, see your places
and offers, leave, decline an offer; the organiser's view per event. Inventory answers every
route (with the caller's credential); an offer is booked with `POST /api/v1/bookings` and
its `offer_id`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from gateway.entrypoints.http.deps import (
    API_PREFIX,
    Booker,
    CurrentCaller,
    DefaultRateLimit,
    SalesWatcher,
    Services,
)
from gateway.entrypoints.http.responses import passed_on
from service_kit.http_errors import error_responses
from ticketing_contracts.waitlist import EventWaitlist, JoinWaitlist, WaitlistEntries, WaitlistEntry

router = APIRouter(prefix=API_PREFIX, tags=["waitlist"], dependencies=[DefaultRateLimit])


@router.post(
    "/events/{event_id}/ticket-types/{ticket_type_id}/waitlist",
    status_code=201,
    response_model=WaitlistEntry,
    summary="Join a sold-out ticket type's waitlist with the quantity you want",
    description="Only while the ticket type has no tickets left for general sale: 409 "
    "`not_sold_out` otherwise (book instead). One entry per account and ticket type: joining "
    "again answers your open entry, 200. The quantity counts against the purchase limits "
    "with the tickets you hold or bought: 409 `purchase_limit_reached`. When tickets come "
    "back they are offered in the order fans joined, each offer for the whole quantity, "
    "held for you until `offer.expires_at` (announced by e-mail); book them with "
    "`POST /api/v1/bookings` and the `offer_id`. 404 for an unknown event or ticket type.",
    responses={
        **error_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
        200: {"model": WaitlistEntry, "description": "Your open entry"},
    },
)
async def join_waitlist(
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    body: JoinWaitlist,
    caller: Booker,
    services: Services,
) -> Response:
    result = await services.waitlist.join(caller, event_id, ticket_type_id, body)
    return passed_on(result, status_code=result.status_code)


@router.get(
    "/waitlist/entries",
    response_model=WaitlistEntries,
    summary="Your waitlist entries: your place, and an open offer to book",
    description="`position` 1 is the next fan to get an offer; an entry with an open offer "
    "is `offered` and carries it (`offer_id`, `quantity`, `expires_at`).",
    responses=error_responses(401, 422, 429, 503),
)
async def waitlist_entries(caller: CurrentCaller, services: Services) -> Response:
    return passed_on(await services.waitlist.entries(caller))


@router.delete(
    "/waitlist/entries/{entry_id}",
    response_model=WaitlistEntry,
    summary="Leave the waitlist; an open offer ends and its tickets pass to the next fan",
    description="Someone else's entry answers 404. An entry that is already over answers as it is.",
    responses=error_responses(401, 404, 409, 422, 429, 503),
)
async def leave_waitlist(
    entry_id: uuid.UUID, caller: CurrentCaller, services: Services
) -> Response:
    result = await services.waitlist.leave(caller, entry_id)
    return passed_on(result, status_code=result.status_code)


@router.post(
    "/waitlist/entries/{entry_id}/decline",
    response_model=WaitlistEntry,
    summary="Decline your open offer: its tickets pass to the next fan",
    description="409 `no_open_offer` when the entry has no open offer; someone else's "
    "entry answers 404.",
    responses=error_responses(401, 404, 409, 422, 429, 503),
)
async def decline_offer(entry_id: uuid.UUID, caller: CurrentCaller, services: Services) -> Response:
    return passed_on(await services.waitlist.decline(caller, entry_id))


@router.get(
    "/events/{event_id}/waitlist",
    response_model=EventWaitlist,
    summary="An event's waitlists per ticket type, in numbers (manager, admin)",
    description="Waiting entries and the tickets they want, open offers and their tickets, "
    "accepted, expired or declined offers; no personal data.",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
async def event_waitlist(event_id: uuid.UUID, caller: SalesWatcher, services: Services) -> Response:
    return passed_on(await services.waitlist.event_waitlist(caller, event_id))
