"""Bookings: users book and see or cancel their own; admins see everyone's."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import EmailStr
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from gateway.adapters.metrics import WAITING_ROOM_NOT_ADMITTED
from gateway.application.bookings import BookingFilters
from gateway.application.catalog import Page
from gateway.application.stream_slots import StreamSlots
from gateway.application.waiting_room import NotAdmittedError
from gateway.domain.users import Caller
from gateway.entrypoints.http.deps import (
    API_PREFIX,
    AdmissionPass,
    Booker,
    CurrentCaller,
    DefaultRateLimit,
    GatewayServices,
    IdempotencyKey,
    IfNoneMatch,
    ReadPosition,
    Services,
    rate_limit,
)
from gateway.entrypoints.http.responses import PRIVATE, command_response, query_response
from gateway.entrypoints.http.schemas import (
    BookingOut,
    BookingRefused,
    BookingStatusEvent,
    PageOf,
)
from gateway.entrypoints.http.venues import NOT_MODIFIED, PageNumber, PageSize
from service_kit.http_errors import error_responses
from ticketing_contracts.commands import CancelBooking, RequestBooking

# Each route names its limits: a booking counts against "default" and "booking" in one go.
BOOKING_RATE_LIMITS = ("default", "booking")
router = APIRouter(prefix=f"{API_PREFIX}/bookings", tags=["bookings"])


@router.post(
    "",
    status_code=202,
    response_model=BookingOut,
    summary="Request a booking; it starts PENDING and becomes CONFIRMED or REJECTED",
    description="Answers 202 with the booking id and a `Location` to poll (or stream its "
    "`/events`). A ticket type already known to be sold out answers 409 `sold_out` at once. "
    "Send an `Idempotency-Key` so a retried request cannot book twice. While the event's "
    "waiting room is on, send its admission pass in `X-Admission-Pass`: without a valid one "
    "(missing, another account's or event's, expired, no attempts left) 403 `not_admitted`. "
    "Outside the ticket type's sale window 409 `not_on_sale` with `sale_starts_at` and "
    "`sale_ends_at`; beyond the event's or the ticket type's limit per account 409 "
    "`purchase_limit_reached` with `limit_scope`, `max_tickets_per_account` and "
    "`tickets_held_or_bought` (pending and confirmed bookings count; cancelled, expired and "
    "rejected ones give their tickets back).",
    responses={
        **error_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
        409: {"model": BookingRefused, "description": "Conflict"},
    },
    dependencies=[Depends(rate_limit(*BOOKING_RATE_LIMITS))],
)
async def request_booking(
    body: RequestBooking,
    caller: Booker,
    services: Services,
    idempotency_key: IdempotencyKey = None,
    admission_pass: AdmissionPass = None,
) -> Response:
    return await book(services, caller, body, idempotency_key, admission_pass)


async def book(
    services: GatewayServices,
    caller: Caller,
    command: RequestBooking,
    idempotency_key: str | None,
    admission_pass: str | None,
) -> Response:
    """The answer to a booking request that passed every check (this route's, or the
    fast path's in `booking_requests.py`)."""
    try:
        outcome = await services.bookings.request_booking(
            caller, command, idempotency_key, admission_pass
        )
    except NotAdmittedError:
        WAITING_ROOM_NOT_ADMITTED.inc()
        raise
    location = f"{router.prefix}/{outcome.resource_id}" if outcome.resource_id else None
    return command_response(outcome, status_code=202, location=location)


@router.get(
    "",
    response_model=PageOf[BookingOut],
    summary="Your bookings (admins: anyone's, filtered by email, event or owner)",
    responses={**NOT_MODIFIED, **error_responses(401, 403, 422, 429, 503)},
    dependencies=[DefaultRateLimit],
)
async def list_bookings(
    caller: CurrentCaller,
    services: Services,
    customer_email: Annotated[EmailStr | None, Query(description="Admins only")] = None,
    owner_id: Annotated[str | None, Query(max_length=64, description="Admins only")] = None,
    event_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern=r"^[A-Z_]{1,20}$", examples=["CONFIRMED"])] = None,
    page: PageNumber = 1,
    size: PageSize = 20,
    read_position: ReadPosition = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    filters = BookingFilters(
        customer_email=customer_email.lower() if customer_email else None,
        event_id=event_id,
        status=status,
        owner_id=owner_id,
    )
    result = await services.bookings.list_bookings(caller, filters, Page(page, size), read_position)
    return query_response(result, if_none_match=if_none_match, cache_control=PRIVATE)


@router.get(
    "/{booking_id}",
    response_model=BookingOut,
    summary="Get one of your bookings",
    description="Someone else's booking answers 404.",
    responses={**NOT_MODIFIED, **error_responses(401, 404, 422, 429, 503)},
    dependencies=[DefaultRateLimit],
)
async def get_booking(
    booking_id: uuid.UUID,
    caller: CurrentCaller,
    services: Services,
    read_position: ReadPosition = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    result = await services.bookings.booking(caller, booking_id, read_position)
    return query_response(result, if_none_match=if_none_match, cache_control=PRIVATE)


@router.post(
    "/{booking_id}/cancel",
    response_model=BookingOut,
    summary="Cancel one of your confirmed bookings; it is refunded and its tickets go back on sale",
    description=(
        "Only a CONFIRMED booking can be cancelled (409 otherwise), by its owner or an admin. "
        "It is CANCELLED at once; its payment is refunded in full shortly after (the answer "
        "may still show payment_status `captured`; the booking then shows `refunded`) and "
        "its tickets go back on sale."
    ),
    responses=error_responses(400, 401, 404, 409, 413, 422, 429, 503),
    dependencies=[DefaultRateLimit],
)
async def cancel_booking(
    booking_id: uuid.UUID,
    caller: CurrentCaller,
    services: Services,
    body: Annotated[CancelBooking | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.bookings.cancel_booking(
        caller, booking_id, body or CancelBooking(), idempotency_key
    )
    return command_response(outcome, status_code=200)


# Before OpenAPI 3.2 an event stream's `schema` describes one event: its SSE fields, with
# the JSON status change in `data`.
STATUS_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"const": "status"},
        "id": {"type": "string", "description": "The change's sequence number in this stream"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": BookingStatusEvent.model_json_schema(),
        },
    },
}


@router.get(
    "/{booking_id}/events",
    summary="Stream the booking's status changes (server-sent events) until it is final",
    description="Each change is an SSE event named `status` with data "
    '`{"id", "status", "reason"}`; the stream ends after CONFIRMED, REJECTED, CANCELLED or '
    "EXPIRED, or after the configured time bound. A user may hold a few streams at once "
    "(429 beyond); a server over its bound answers 503.",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": STATUS_EVENT_SCHEMA}},
            "description": "A stream of `status` events",
        },
        **error_responses(401, 404, 422, 429, 503),
    },
    dependencies=[DefaultRateLimit],
)
async def stream_booking_status(
    booking_id: uuid.UUID,
    request: Request,
    caller: CurrentCaller,
    services: Services,
    read_position: ReadPosition = None,
) -> EventSourceResponse:
    first = await services.bookings.booking(caller, booking_id, read_position)
    settings = services.settings
    slots: StreamSlots = request.app.state.stream_slots
    slots.acquire(caller.user_id)
    changes = services.bookings.status_changes(
        caller,
        booking_id,
        first=first,
        poll_interval_seconds=settings.sse_poll_interval_seconds,
        max_duration_seconds=settings.sse_max_duration_seconds,
    )

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for change in changes:
            if await request.is_disconnected():
                break
            yield ServerSentEvent(
                data=json.dumps(change.as_json()), event="status", id=str(change.sequence)
            )

    return EventSourceResponse(
        events(),
        ping=15,
        headers={"Cache-Control": "no-store"},
        # Runs however the stream ends, a client going away included.
        background=BackgroundTask(slots.release, caller.user_id),
    )
