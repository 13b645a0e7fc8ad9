"""Event (show) commands: schedule, change, add ticket types, set sale terms, publish,
reschedule, cancel."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from booking_command.application import commands
from booking_command.application.catalog import TicketTypeAdded
from booking_command.application.message_bus import Message
from booking_command.application.results import Answer
from booking_command.application.views import event_view, ticket_type_view
from booking_command.domain import catalog_event
from booking_command.domain.catalog_event import Event
from booking_command.entrypoints.http.deps import (
    AdminCallerDep,
    BusDep,
    CatalogCallerDep,
    IdempotencyKeyDep,
    claim,
)
from booking_command.entrypoints.http.responses import command_response
from booking_command.entrypoints.http.schemas import EventResponse, TicketTypeAddedResponse
from service_kit.http_errors import error_responses
from ticketing_contracts.commands import (
    AddTicketType,
    CancelEvent,
    ChangeEventDetails,
    ChangeSaleTerms,
    CreateEvent,
    RescheduleEvent,
    SaleTerms,
    TicketTypeSpec,
)

router = APIRouter(prefix="/internal/v1/events", tags=["events"])


def created(show: Event) -> Answer:
    return Answer(201, event_view(show))


def changed(show: Event) -> Answer:
    return Answer(200, event_view(show))


def ticket_type_added(added: TicketTypeAdded) -> Answer:
    return Answer(
        201,
        {
            **event_view(added.event),
            "ticket_type": ticket_type_view(added.event, added.ticket_type),
        },
    )


def _sale(terms: SaleTerms) -> catalog_event.SaleTerms:
    return catalog_event.SaleTerms(
        starts_at=terms.sale_starts_at,
        ends_at=terms.sale_ends_at,
        max_tickets_per_account=terms.max_tickets_per_account,
    )


def _spec(ticket_type: TicketTypeSpec) -> catalog_event.TicketTypeSpec:
    return catalog_event.TicketTypeSpec(
        name=ticket_type.name,
        price=ticket_type.price,
        currency=ticket_type.currency,
        quantity=ticket_type.quantity,
        sale=_sale(ticket_type),
    )


@router.post(
    "",
    status_code=201,
    response_model=EventResponse,
    summary="Schedule an event at a venue, as a draft, with its ticket types",
    responses=error_responses(403, 404, 409, 422),
)
async def create_event(
    body: CreateEvent,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.ScheduleEvent(
        venue_id=body.venue_id,
        name=body.name,
        description=body.description,
        starts_at=body.starts_at,
        ticket_types=[_spec(ticket_type) for ticket_type in body.ticket_types],
        sale=_sale(body),
    )
    result = await bus.handle(Message(command, created, claim(request, caller, key, body)))
    return command_response(result)


@router.put(
    "/{event_id}",
    response_model=EventResponse,
    summary="Change an event's name and description",
    responses=error_responses(403, 404, 409, 422),
)
async def change_event_details(
    event_id: UUID,
    body: ChangeEventDetails,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.ChangeEventDetails(event_id, name=body.name, description=body.description)
    result = await bus.handle(Message(command, changed, claim(request, caller, key, body)))
    return command_response(result)


@router.post(
    "/{event_id}/ticket-types",
    status_code=201,
    response_model=TicketTypeAddedResponse,
    summary="Add a ticket type; all quantities together must fit the venue",
    responses=error_responses(403, 404, 409, 422),
)
async def add_ticket_type(
    event_id: UUID,
    body: AddTicketType,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.AddTicketType(event_id, _spec(body))
    result = await bus.handle(
        Message(command, ticket_type_added, claim(request, caller, key, body))
    )
    return command_response(result)


SALE_DESCRIPTION = (
    "Replaces all three terms (a null clears one). The sale window is checked by inventory, "
    "with its own clock, once it has read the change from the catalog topic: a booking "
    "outside it is refused 409 `not_on_sale`. The purchase limit counts an account's "
    "pending and confirmed bookings at inventory; beyond it, 409 "
    "`purchase_limit_reached`. 422 when a sale would end before it starts, for the event "
    "or any ticket type (its own bounds, else the event's)."
)


@router.put(
    "/{event_id}/sale",
    response_model=EventResponse,
    summary="Set the event's sale window and purchase limit per account",
    description=SALE_DESCRIPTION,
    responses=error_responses(403, 404, 409, 422),
)
async def change_event_sale(
    event_id: UUID,
    body: ChangeSaleTerms,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.ChangeEventSale(event_id, _sale(body))
    result = await bus.handle(Message(command, changed, claim(request, caller, key, body)))
    return command_response(result)


@router.put(
    "/{event_id}/ticket-types/{ticket_type_id}/sale",
    response_model=EventResponse,
    summary="Set a ticket type's own sale window (null: the event's) and purchase limit",
    description=SALE_DESCRIPTION,
    responses=error_responses(403, 404, 409, 422),
)
async def change_ticket_type_sale(
    event_id: UUID,
    ticket_type_id: UUID,
    body: ChangeSaleTerms,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.ChangeTicketTypeSale(event_id, ticket_type_id, _sale(body))
    result = await bus.handle(Message(command, changed, claim(request, caller, key, body)))
    return command_response(result)


@router.post(
    "/{event_id}/publish",
    response_model=EventResponse,
    summary="Put the event on sale",
    responses=error_responses(403, 404, 409, 422),
)
async def publish_event(
    event_id: UUID,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.PublishEvent(event_id)
    result = await bus.handle(Message(command, changed, claim(request, caller, key, None)))
    return command_response(result)


@router.post(
    "/{event_id}/reschedule",
    response_model=EventResponse,
    summary="Move the event to a new start time in the future",
    responses=error_responses(403, 404, 409, 422),
)
async def reschedule_event(
    event_id: UUID,
    body: RescheduleEvent,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.RescheduleEvent(event_id, starts_at=body.starts_at)
    result = await bus.handle(Message(command, changed, claim(request, caller, key, body)))
    return command_response(result)


@router.post(
    "/{event_id}/cancel",
    response_model=EventResponse,
    summary="Cancel the event; it stops selling and leaves its venue's schedule (admin)",
    description=(
        "Every booking of the event then ends, in batches and surviving restarts: CONFIRMED "
        "ones are CANCELLED (reason `event_cancelled`) and their payments refunded, PENDING "
        "ones are REJECTED (`event_cancelled`, any authorisation cancelled or capture "
        "refunded); inventory releases their tickets."
    ),
    responses=error_responses(403, 404, 409, 422),
)
async def cancel_event(
    event_id: UUID,
    request: Request,
    bus: BusDep,
    caller: AdminCallerDep,
    key: IdempotencyKeyDep,
    body: CancelEvent | None = None,
) -> JSONResponse:
    reason = body.reason if body is not None else ""
    command = commands.CancelEvent(event_id, reason=reason, cancelled_by=caller.id)
    result = await bus.handle(Message(command, changed, claim(request, caller, key, body)))
    return command_response(result)
