"""Booking commands: request (202, group-committed), cancel, and a look at one booking."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from booking_command.adapters.metrics import BOOKING_REQUESTS
from booking_command.application.results import CommandResult
from booking_command.application.views import booking_view
from booking_command.entrypoints.http.deps import (
    CallerDep,
    IdempotencyKeyDep,
    ServiceDep,
    claim,
)
from booking_command.entrypoints.http.responses import command_response
from booking_command.entrypoints.http.schemas import BookingResponse
from service_kit.errors import DomainError
from service_kit.http_errors import error_responses
from ticketing_contracts.commands import CancelBooking, RequestBooking

router = APIRouter(prefix="/internal/v1/bookings", tags=["bookings"])


def booking_location(booking_id: UUID) -> str:
    return f"{router.prefix}/{booking_id}"


@router.post(
    "",
    status_code=202,
    response_model=BookingResponse,
    summary="Request tickets: stores a PENDING booking; inventory decides",
    description=(
        "Answers 202 with the booking id and a Location; the booking becomes CONFIRMED "
        "or REJECTED when inventory answers, or EXPIRED when its hold runs out."
    ),
    responses=error_responses(401, 404, 409, 422),
)
async def request_booking(
    body: RequestBooking,
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    prepare = partial(
        service.app.bookings.request_booking,
        event_id=body.event_id,
        ticket_type_id=body.ticket_type_id,
        quantity=body.quantity,
        customer_name=body.customer_name,
        customer_email=str(body.customer_email),
        owner_id=caller.id,
    )
    try:
        result = await service.execute(
            prepare, idempotency=claim(request, caller, key, body), batched=True
        )
    except DomainError as error:
        BOOKING_REQUESTS.labels(outcome=error.error_type).inc()
        raise
    BOOKING_REQUESTS.labels(outcome="replayed" if result.replayed else "accepted").inc()
    return command_response(result, location=booking_location(result.id))


@router.post(
    "/{booking_id}/cancel",
    response_model=BookingResponse,
    summary="Cancel a confirmed booking (its owner or an admin); its tickets are released",
    responses=error_responses(401, 404, 409, 422),
)
async def cancel_booking(
    booking_id: UUID,
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    key: IdempotencyKeyDep,
    body: CancelBooking | None = None,
) -> JSONResponse:
    prepare = partial(
        service.app.bookings.cancel_booking,
        booking_id,
        caller_id=caller.id,
        is_admin=caller.is_admin,
    )
    result = await service.execute(prepare, idempotency=claim(request, caller, key, body))
    return command_response(result)


@router.get(
    "/{booking_id}",
    response_model=BookingResponse,
    summary="A booking as the write side has it (the read model serves clients)",
    responses=error_responses(401, 404),
)
async def get_booking(booking_id: UUID, service: ServiceDep, caller: CallerDep) -> JSONResponse:
    app = service.app
    booking = await service.executor.run(
        partial(app.bookings.get_booking, booking_id, caller_id=caller.id, is_admin=caller.is_admin)
    )
    position = await service.executor.run(
        app.booking_recorder.notification_id_of, booking.id, booking.version
    )
    result = CommandResult(
        id=booking.id,
        version=booking.version,
        position=position or 0,
        status_code=200,
        body=booking_view(booking),
    )
    return command_response(result)
