"""Event (show) commands: schedule, change, add, change and remove ticket types, set sale
terms, publish, reschedule, cancel."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from booking_command.application import commands
from booking_command.application.catalog import TicketTypeAdded, TicketTypeEdited
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
from booking_command.entrypoints.http.schemas import (
    EventResponse,
    TicketTypeAddedResponse,
    TicketTypeChangedResponse,
)
from service_kit.http_errors import error_responses
from ticketing_contracts.commands import (
    AddTicketType,
    CancelEvent,
    ChangeEventDetails,
    ChangeEventSaleTerms,
    ChangeSaleTerms,
    ChangeTicketType,
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


def ticket_type_changed(edited: TicketTypeEdited) -> Answer:
    return Answer(
        200,
        {
            **event_view(edited.event),
            "ticket_type": ticket_type_view(edited.event, edited.change.ticket_type),
        },
    )


def ticket_type_removed(edited: TicketTypeEdited) -> Answer:
    return Answer(200, event_view(edited.event))


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


@router.patch(
    "/{event_id}/ticket-types/{ticket_type_id}",
    response_model=TicketTypeChangedResponse,
    summary="Rename, reprice, change the quantity of, or close or reopen a ticket type",
    description=(
        "Give at least one of `name`, `price`, `quantity` and `sales_closed`; the rest stays. "
        "A new price applies to bookings made from now on (bookings made before keep theirs). "
        "A lower quantity is agreed with inventory first, which applies it at once: below the "
        "tickets sold, held and offered it is refused 409 `quantity_below_taken` with "
        "`quantity`, `sold`, `held` and `offered`; inventory not answering, 503 with "
        "Retry-After and nothing changed. A higher one goes to the ticket type's waitlist "
        "first. Closed sales refuse bookings 409 `sales_closed` until reopened. 404 for an "
        "unknown event or ticket type, 409 `event_cancelled`, `duplicate_ticket_type`, 422 "
        "when all quantities together would exceed the venue."
    ),
    responses=error_responses(403, 404, 409, 422, 503),
)
async def change_ticket_type(
    event_id: UUID,
    ticket_type_id: UUID,
    body: ChangeTicketType,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.ChangeTicketType(
        event_id,
        ticket_type_id,
        name=body.name,
        price=body.price,
        quantity=body.quantity,
        sales_closed=body.sales_closed,
    )
    result = await bus.handle(
        Message(command, ticket_type_changed, claim(request, caller, key, body))
    )
    return command_response(result)


@router.delete(
    "/{event_id}/ticket-types/{ticket_type_id}",
    response_model=EventResponse,
    summary="Remove a ticket type nothing was sold, held or offered of",
    description=(
        "Agreed with inventory first: a ticket type any ticket of was ever sold, or that has "
        "tickets held or offered, is refused 409 `ticket_type_in_use` with `quantity`, "
        "`sold`, `held` and `offered`; inventory not answering, 503 with Retry-After and "
        "nothing changed. The last ticket type of an event stays (409 `last_ticket_type`). "
        "Bookings for a removed type are refused 409 `unknown_ticket_type`."
    ),
    responses=error_responses(403, 404, 409, 422, 503),
)
async def remove_ticket_type(
    event_id: UUID,
    ticket_type_id: UUID,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.RemoveTicketType(event_id, ticket_type_id)
    result = await bus.handle(
        Message(command, ticket_type_removed, claim(request, caller, key, None))
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
    summary="Set the event's sale window, purchase limit per account, hold and offer windows",
    description=SALE_DESCRIPTION
    + " `hold_minutes` is how long a booking's tickets are held for its payment and "
    "`waitlist_offer_minutes` how long a waitlist offer holds its tickets (null: the "
    "services' defaults); both apply to holds and offers made from then on.",
    responses=error_responses(403, 404, 409, 422),
)
async def change_event_sale(
    event_id: UUID,
    body: ChangeEventSaleTerms,
    request: Request,
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.ChangeEventSale(
        event_id,
        _sale(body),
        hold_minutes=body.hold_minutes,
        waitlist_offer_minutes=body.waitlist_offer_minutes,
    )
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
