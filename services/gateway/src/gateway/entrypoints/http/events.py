"""Events and their ticket types: writes by managers (cancel: admins), reads by anyone."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import AwareDatetime

from gateway.application.catalog import EventFilters, Page, ReadOptions
from gateway.entrypoints.http.deps import (
    API_PREFIX,
    Admin,
    CatalogManager,
    DefaultRateLimit,
    IdempotencyKey,
    IfNoneMatch,
    OptionalCaller,
    ReadPosition,
    Services,
)
from gateway.entrypoints.http.responses import (
    catalog_cache_control,
    command_response,
    query_response,
)
from gateway.entrypoints.http.schemas import AvailabilityOut, EventOut, PageOf
from gateway.entrypoints.http.venues import NOT_MODIFIED, PageNumber, PageSize
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
)

router = APIRouter(prefix=f"{API_PREFIX}/events", tags=["events"], dependencies=[DefaultRateLimit])

WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429, 503)
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_MODIFIED,
    **error_responses(401, 404, 422, 429, 503),
}


def _location(event_id: str | None) -> str | None:
    return f"/api/v1/events/{event_id}" if event_id else None


@router.post(
    "",
    status_code=201,
    response_model=EventOut,
    summary="Create an event with its ticket types (manager, admin)",
    description="The event starts as a draft; publish it to put its tickets on sale.",
    responses=WRITE_ERRORS,
)
async def create_event(
    body: CreateEvent,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.create_event(caller, body, idempotency_key)
    return command_response(outcome, status_code=201, location=_location(outcome.resource_id))


@router.get(
    "",
    response_model=PageOf[EventOut],
    summary="Search and list events",
    responses={**NOT_MODIFIED, **error_responses(401, 422, 429, 503)},
)
async def list_events(
    caller: OptionalCaller,
    services: Services,
    q: Annotated[str | None, Query(max_length=200, description="Full-text search")] = None,
    venue_id: uuid.UUID | None = None,
    starts_after: Annotated[AwareDatetime | None, Query()] = None,
    starts_before: Annotated[AwareDatetime | None, Query()] = None,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$", examples=["published"])] = None,
    sort: Annotated[
        Literal["starts_at", "-starts_at", "name", "-name", "popularity"] | None, Query()
    ] = None,
    page: PageNumber = 1,
    size: PageSize = 20,
    read_position: ReadPosition = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    filters = EventFilters(q, venue_id, starts_after, starts_before, status, sort)
    result = await services.catalog.list_events(
        caller, filters, Page(page, size), ReadOptions(read_position, if_none_match)
    )
    cache = catalog_cache_control(caller, services.settings.public_cache_max_age_seconds)
    return query_response(result, if_none_match=if_none_match, cache_control=cache)


@router.get(
    "/popular",
    response_model=list[EventOut],
    summary="The most booked upcoming events",
    responses=READ_ERRORS,
)
async def popular_events(
    caller: OptionalCaller,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    if_none_match: IfNoneMatch = None,
) -> Response:
    result = await services.catalog.popular_events(caller, limit, ReadOptions(None, if_none_match))
    cache = catalog_cache_control(caller, services.settings.public_cache_max_age_seconds)
    return query_response(result, if_none_match=if_none_match, cache_control=cache)


@router.get("/{event_id}", response_model=EventOut, summary="Get an event", responses=READ_ERRORS)
async def get_event(
    event_id: uuid.UUID,
    caller: OptionalCaller,
    services: Services,
    read_position: ReadPosition = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    result = await services.catalog.event(
        caller, event_id, ReadOptions(read_position, if_none_match)
    )
    cache = catalog_cache_control(caller, services.settings.public_cache_max_age_seconds)
    return query_response(result, if_none_match=if_none_match, cache_control=cache)


@router.get(
    "/{event_id}/availability",
    response_model=AvailabilityOut,
    summary="Tickets left per ticket type",
    responses=READ_ERRORS,
)
async def get_availability(
    event_id: uuid.UUID,
    caller: OptionalCaller,
    services: Services,
    if_none_match: IfNoneMatch = None,
) -> Response:
    result = await services.catalog.availability(caller, event_id, ReadOptions(None, if_none_match))
    # Availability changes by the second during a sale: caches must always revalidate.
    return query_response(result, if_none_match=if_none_match, cache_control="public, no-cache")


@router.put(
    "/{event_id}",
    response_model=EventOut,
    summary="Change an event's name and description (manager, admin)",
    responses=WRITE_ERRORS,
)
async def change_event_details(
    event_id: uuid.UUID, body: ChangeEventDetails, caller: CatalogManager, services: Services
) -> Response:
    outcome = await services.catalog.change_event_details(caller, event_id, body)
    return command_response(outcome, status_code=200)


@router.post(
    "/{event_id}/ticket-types",
    status_code=201,
    response_model=EventOut,
    summary="Add a ticket type (manager, admin)",
    responses=WRITE_ERRORS,
)
async def add_ticket_type(
    event_id: uuid.UUID,
    body: AddTicketType,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.add_ticket_type(caller, event_id, body, idempotency_key)
    return command_response(outcome, status_code=201, location=_location(str(event_id)))


SALE_TERMS_DESCRIPTION = (
    "Replaces the sale terms: all three fields, a null (or a missing field) clears one. "
    "`sale_starts_at`/`sale_ends_at`: bookings before the start or from the end on are "
    "answered 409 `not_on_sale` with the ticket type's window (each of its own bounds, else "
    "the event's). `max_tickets_per_account`: the most tickets one account may hold or buy "
    "(pending and confirmed bookings count, ended ones give theirs back); beyond it 409 "
    "`purchase_limit_reached`. Inventory decides both with its own clock and counts, as soon "
    "as it has read the change (usually well under a second). 422 when a sale would end "
    "before it starts, for the event or any of its ticket types."
)


@router.put(
    "/{event_id}/sale",
    response_model=EventOut,
    summary="Set an event's sale window, purchase limit per account, hold and offer windows "
    "(manager, admin)",
    description=SALE_TERMS_DESCRIPTION
    + " `hold_minutes`: how long a booking's tickets are held for its payment "
    "(`hold_expires_at`); `waitlist_offer_minutes`: how long a waitlist offer holds its "
    "tickets for the fan; 1 to 10080, null: the platform's default. Both apply to holds "
    "and offers made from then on.",
    responses=WRITE_ERRORS,
)
async def change_event_sale(
    event_id: uuid.UUID,
    body: ChangeEventSaleTerms,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.change_event_sale(caller, event_id, body, idempotency_key)
    return command_response(outcome, status_code=200)


@router.put(
    "/{event_id}/ticket-types/{ticket_type_id}/sale",
    response_model=EventOut,
    summary="Set a ticket type's own sale window and purchase limit (manager, admin)",
    description=SALE_TERMS_DESCRIPTION
    + " A ticket type's null window bound means the event's; its limit applies beside the "
    "event's.",
    responses=WRITE_ERRORS,
)
async def change_ticket_type_sale(
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    body: ChangeSaleTerms,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.change_ticket_type_sale(
        caller, event_id, ticket_type_id, body, idempotency_key
    )
    return command_response(outcome, status_code=200)


@router.patch(
    "/{event_id}/ticket-types/{ticket_type_id}",
    response_model=EventOut,
    summary="Rename, reprice, change the quantity of, or close or reopen a ticket type "
    "(manager, admin)",
    description="Give at least one of `name`, `price`, `quantity`, `sales_closed` (422 "
    "otherwise); the rest stays. A new price applies to bookings made from then on; existing "
    "bookings keep theirs. A higher quantity's new tickets go to the ticket type's waitlist "
    "first. A lower one is applied by inventory at once, or refused 409 "
    "`quantity_below_taken` with `quantity`, `sold`, `held` and `offered` when fewer tickets "
    "would be left than are taken; 503 with Retry-After when inventory cannot answer "
    "(nothing changed). Closed sales answer bookings 409 `sales_closed` until reopened. 404 "
    "unknown event or ticket type; 409 `event_cancelled`, `duplicate_ticket_type`; 422 when "
    "all quantities together would exceed the venue.",
    responses=WRITE_ERRORS,
)
async def change_ticket_type(
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    body: ChangeTicketType,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.change_ticket_type(
        caller, event_id, ticket_type_id, body, idempotency_key
    )
    return command_response(outcome, status_code=200)


@router.delete(
    "/{event_id}/ticket-types/{ticket_type_id}",
    response_model=EventOut,
    summary="Remove a ticket type nothing was sold of (manager, admin)",
    description="409 `ticket_type_in_use` (with `quantity`, `sold`, `held`, `offered`) when "
    "any ticket of it was ever sold, or some are held or offered now; 409 "
    "`last_ticket_type` for an event's only ticket type; 503 with Retry-After when inventory "
    "cannot answer (nothing changed). Bookings for a removed type answer 409 "
    "`unknown_ticket_type`.",
    responses=WRITE_ERRORS,
)
async def remove_ticket_type(
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.remove_ticket_type(
        caller, event_id, ticket_type_id, idempotency_key
    )
    return command_response(outcome, status_code=200)


@router.post(
    "/{event_id}/publish",
    response_model=EventOut,
    summary="Publish an event: its tickets go on sale (manager, admin)",
    responses=WRITE_ERRORS,
)
async def publish_event(
    event_id: uuid.UUID,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.publish_event(caller, event_id, idempotency_key)
    return command_response(outcome, status_code=200)


@router.post(
    "/{event_id}/reschedule",
    response_model=EventOut,
    summary="Move an event to a new start time (manager, admin)",
    responses=WRITE_ERRORS,
)
async def reschedule_event(
    event_id: uuid.UUID,
    body: RescheduleEvent,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.reschedule_event(caller, event_id, body, idempotency_key)
    return command_response(outcome, status_code=200)


@router.post(
    "/{event_id}/cancel",
    response_model=EventOut,
    summary="Cancel an event (admin); its bookings are cancelled and refunded",
    description=(
        "The event stops selling at once. Every booking of it then ends within seconds "
        "(in batches, surviving restarts): CONFIRMED bookings become CANCELLED with reason "
        "`event_cancelled` and their payments are refunded in full; PENDING ones end "
        "REJECTED with reason `event_cancelled` (nothing stays charged); their tickets are "
        "released."
    ),
    responses=WRITE_ERRORS,
)
async def cancel_event(
    event_id: uuid.UUID,
    caller: Admin,
    services: Services,
    body: Annotated[CancelEvent | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    command = body or CancelEvent()
    outcome = await services.catalog.cancel_event(caller, event_id, command, idempotency_key)
    return command_response(outcome, status_code=200)
