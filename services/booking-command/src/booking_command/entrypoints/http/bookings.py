"""Booking commands: request (202, group-committed) one or a coalesced batch, cancel, and a
look at one booking."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from booking_command.adapters.metrics import BOOKING_REQUESTS
from booking_command.application import commands
from booking_command.application.bookings import booking_id_for
from booking_command.application.message_bus import Message
from booking_command.application.results import Answer, CommandResult, IdempotencyClaim
from booking_command.application.views import booking_view
from booking_command.domain.booking import Booking
from booking_command.entrypoints.http.deps import (
    BusDep,
    CallerDep,
    GatewayCallerDep,
    IdempotencyKeyDep,
    ReadsDep,
    claim,
    claim_for,
)
from booking_command.entrypoints.http.responses import command_response
from booking_command.entrypoints.http.schemas import BookingResponse
from service_kit.errors import DomainError
from service_kit.http_errors import error_body, error_responses, status_for
from service_kit.request_context import current_correlation_id, new_id
from ticketing_contracts.commands import (
    CancelBooking,
    RequestBooking,
    RequestBookingBatch,
    RequestBookingBatchResult,
)

router = APIRouter(prefix="/internal/v1/bookings", tags=["bookings"])


def booking_location(booking_id: UUID) -> str:
    return f"{router.prefix}/{booking_id}"


def held(booking: Booking) -> Answer:
    """Inventory holds the tickets; the booking is PENDING until its payment is captured."""
    return Answer(202, booking_view(booking))


def changed(booking: Booking) -> Answer:
    return Answer(200, booking_view(booking))


@router.post(
    "",
    status_code=202,
    response_model=BookingResponse,
    summary="Request tickets: inventory holds them, then a PENDING booking is stored",
    description=(
        "Inventory is asked to hold the tickets first. Held: 202 with the booking id, a "
        "Location and `hold_expires_at`; the booking becomes CONFIRMED once its payment is "
        "captured, REJECTED when the card is declined, EXPIRED when the hold runs out. "
        "Refused: 409 with inventory's reason (`sold_out`, `not_enough_tickets`, "
        "`not_on_sale` with the ticket type's `sale_starts_at` and `sale_ends_at`, "
        "`purchase_limit_reached` with `limit_scope`, `max_tickets_per_account` and "
        "`tickets_held_or_bought`, ...) and nothing stored. Inventory not answering: 503 "
        "with Retry-After, nothing stored. With "
        "an Idempotency-Key the booking id derives from it, so a retry gets the same answer."
    ),
    responses=error_responses(401, 404, 409, 422, 503),
)
async def request_booking(
    body: RequestBooking,
    request: Request,
    bus: BusDep,
    caller: CallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    message = booking_message(
        body, caller.id, claim(request, caller, key, body), current_correlation_id()
    )
    [outcome] = await bus.handle_batch([message])
    if isinstance(outcome, DomainError):
        BOOKING_REQUESTS.labels(outcome=outcome.error_type).inc()
        raise outcome
    BOOKING_REQUESTS.labels(outcome="replayed" if outcome.replayed else "accepted").inc()
    return command_response(outcome, location=booking_location(outcome.id))


@router.post(
    "/batch",
    response_model=RequestBookingBatchResult,
    summary="Request tickets for many callers at once (the gateway coalesces concurrent requests)",
    description=(
        "Each request is handled exactly as `POST /internal/v1/bookings` would handle it, "
        "with its own caller, Idempotency-Key and correlation id, and all of them are stored "
        "together (group commit). Answers 200 with one outcome per request, in order: the "
        "status code and body the single route would have answered (202 with the booking, "
        "or the error shape: 404 unknown event, 409 not on sale or sold out, 422 invalid or "
        "a reused Idempotency-Key with another request). One failing request does not fail "
        "the others. A batch that is not valid as a whole is answered 422 and nothing is stored. "
        "Only the gateway's own token (role `service`) may send one, as the items name their "
        "callers."
    ),
    responses=error_responses(403, 422),
)
async def request_booking_batch(
    batch: RequestBookingBatch, bus: BusDep, _: GatewayCallerDep
) -> JSONResponse:
    messages = [
        booking_message(
            request.command,
            request.caller_id,
            claim_for(
                "POST", router.prefix, request.caller_id, request.idempotency_key, request.command
            ),
            request.correlation_id,
        )
        for request in batch.requests
    ]
    outcomes = []
    for outcome in await bus.handle_batch(messages):
        if isinstance(outcome, DomainError):
            BOOKING_REQUESTS.labels(outcome=outcome.error_type).inc()
            outcomes.append(
                {
                    "status_code": status_for(outcome),
                    "body": error_body(outcome.detail, outcome.error_type, **outcome.extra),
                }
            )
        else:
            BOOKING_REQUESTS.labels(outcome="replayed" if outcome.replayed else "accepted").inc()
            outcomes.append({"status_code": outcome.status_code, "body": outcome.response_body()})
    return JSONResponse({"outcomes": outcomes})


def booking_message(
    body: RequestBooking,
    owner_id: str,
    idempotency: IdempotencyClaim | None,
    correlation_id: str | None,
) -> Message:
    command = commands.RequestBooking(
        event_id=body.event_id,
        ticket_type_id=body.ticket_type_id,
        quantity=body.quantity,
        customer_name=body.customer_name,
        customer_email=str(body.customer_email),
        owner_id=owner_id,
        payment_token=body.payment_token,
        booking_id=booking_id_for(idempotency),
        offer_id=body.offer_id,
    )
    return Message(command, held, idempotency, correlation_id or new_id())


@router.post(
    "/{booking_id}/cancel",
    response_model=BookingResponse,
    summary="Cancel a confirmed booking (its owner or an admin); its tickets are released",
    description=(
        "The booking is CANCELLED at once; its captured payment is refunded in full by the "
        "payment worker (idempotency key `booking-<id>-refund`), which shows as "
        "payment_status `refunded`."
    ),
    responses=error_responses(401, 404, 409, 422),
)
async def cancel_booking(
    booking_id: UUID,
    request: Request,
    bus: BusDep,
    caller: CallerDep,
    key: IdempotencyKeyDep,
    body: CancelBooking | None = None,
) -> JSONResponse:
    command = commands.CancelBooking(booking_id, caller_id=caller.id, is_admin=caller.is_admin)
    result = await bus.handle(Message(command, changed, claim(request, caller, key, body)))
    return command_response(result)


@router.get(
    "/{booking_id}",
    response_model=BookingResponse,
    summary="A booking as the write side has it (the read model serves clients)",
    responses=error_responses(401, 404),
)
async def get_booking(booking_id: UUID, reads: ReadsDep, caller: CallerDep) -> JSONResponse:
    booking, position = await reads.booking(
        booking_id, caller_id=caller.id, is_admin=caller.is_admin
    )
    result = CommandResult(
        id=booking.id,
        version=booking.version,
        position=position,
        status_code=200,
        body=booking_view(booking),
    )
    return command_response(result)
