"""The internal query API the gateway calls (JSON, ETags, read-your-writes)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel

from query_projection.application.queries import Consistency, ReadModelQueries, Tagged
from query_projection.application.views import (
    AvailabilityView,
    BookingFilters,
    BookingView,
    EventDetailsView,
    EventFilters,
    EventSort,
    EventStatusFilter,
    EventSummaryView,
    Page,
    PopularEventView,
    PositionsView,
    VenueView,
)
from service_kit.errors import InvalidInputError
from service_kit.http_errors import error_responses
from ticketing_contracts.events import BookingStatus

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "venues", "description": "Venues read model (PostgreSQL)"},
    {"name": "events", "description": "Events, availability (Redis) and popularity"},
    {"name": "bookings", "description": "Bookings: status from Redis, details from PostgreSQL"},
    {"name": "projection", "description": "How far the read models have got"},
]

_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match tag is still current"}
}
_SINGLE = {**_NOT_MODIFIED, **error_responses(404, 422, 503)}
_LIST = {**_NOT_MODIFIED, **error_responses(422, 503)}


def get_queries(request: Request) -> ReadModelQueries:
    queries: ReadModelQueries = request.app.state.queries
    return queries


Queries = Annotated[ReadModelQueries, Depends(get_queries)]


def _wait_bound(request: Request) -> int:
    return int(request.app.state.settings.max_wait_ms)


def list_consistency(
    request: Request,
    min_position: Annotated[
        int | None,
        Query(ge=0, description="Wait until the read models have applied this command position"),
    ] = None,
    wait_ms: Annotated[
        int | None,
        Query(ge=0, description="How long to wait for min_position/min_version (capped)"),
    ] = None,
) -> Consistency:
    bound = _wait_bound(request)
    return Consistency(
        min_position=min_position, wait_ms=bound if wait_ms is None else min(wait_ms, bound)
    )


def resource_consistency(
    consistency: Annotated[Consistency, Depends(list_consistency)],
    min_version: Annotated[
        int | None, Query(ge=0, description="Wait until the resource has this version")
    ] = None,
) -> Consistency:
    return Consistency(
        min_position=consistency.min_position, min_version=min_version, wait_ms=consistency.wait_ms
    )


ListConsistency = Annotated[Consistency, Depends(list_consistency)]
ResourceConsistency = Annotated[Consistency, Depends(resource_consistency)]
PageNumber = Annotated[int, Query(ge=1, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return etag in candidates


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value


def tagged_response(request: Request, tagged: Tagged[Any]) -> Response:
    headers = {"ETag": tagged.etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), tagged.etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(_json(tagged.value), headers=headers)


router = APIRouter(prefix="/internal/v1")


@router.get(
    "/venues",
    tags=["venues"],
    summary="List venues (deleted ones excluded), by name",
    response_model=Page[VenueView],
    responses=_LIST,
)
async def list_venues(
    request: Request,
    queries: Queries,
    consistency: ListConsistency,
    page: PageNumber = 1,
    size: PageSize = DEFAULT_PAGE_SIZE,
) -> Response:
    return tagged_response(request, await queries.venues(page, size, consistency))


@router.get(
    "/venues/{venue_id}",
    tags=["venues"],
    summary="Get a venue; deleted venues answer 404",
    response_model=VenueView,
    responses=_SINGLE,
)
async def get_venue(
    venue_id: UUID, request: Request, queries: Queries, consistency: ResourceConsistency
) -> Response:
    return tagged_response(request, await queries.venue(venue_id, consistency))


@router.get(
    "/events",
    tags=["events"],
    summary="Search events by text, venue, date range and status; sorted and paginated",
    response_model=Page[EventSummaryView],
    responses=_LIST,
)
async def list_events(
    request: Request,
    queries: Queries,
    consistency: ListConsistency,
    q: Annotated[str | None, Query(max_length=200, description="Words in name/description")] = None,
    venue_id: UUID | None = None,
    starts_after: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    status: EventStatusFilter | None = None,
    sort: EventSort = "starts_at",
    page: PageNumber = 1,
    size: PageSize = DEFAULT_PAGE_SIZE,
) -> Response:
    if starts_after and starts_before and starts_after >= starts_before:
        raise InvalidInputError("starts_after must be before starts_before")
    filters = EventFilters(
        q=q,
        venue_id=venue_id,
        starts_after=starts_after,
        starts_before=starts_before,
        status=status,
        sort=sort,
    )
    return tagged_response(request, await queries.events(filters, page, size, consistency))


@router.get(
    "/events/popular",
    tags=["events"],
    summary="Events with the most tickets sold (Redis)",
    response_model=list[PopularEventView],
    responses=_LIST,
)
async def popular_events(
    request: Request,
    queries: Queries,
    consistency: ListConsistency,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
) -> Response:
    return tagged_response(request, await queries.popular_events(limit, consistency))


@router.get(
    "/events/{event_id}",
    tags=["events"],
    summary="Get an event with its venue and ticket types (price, quantity, availability)",
    response_model=EventDetailsView,
    responses=_SINGLE,
)
async def get_event(
    event_id: UUID, request: Request, queries: Queries, consistency: ResourceConsistency
) -> Response:
    return tagged_response(request, await queries.event(event_id, consistency))


@router.get(
    "/events/{event_id}/availability",
    tags=["events"],
    summary="Remaining tickets per ticket type (Redis), with sold_out flags",
    response_model=AvailabilityView,
    responses=_SINGLE,
)
async def get_availability(
    event_id: UUID, request: Request, queries: Queries, consistency: ListConsistency
) -> Response:
    return tagged_response(request, await queries.availability(event_id, consistency))


@router.get(
    "/bookings/{booking_id}",
    tags=["bookings"],
    summary="Get a booking: status from Redis, details from PostgreSQL (includes owner_id)",
    response_model=BookingView,
    responses=_SINGLE,
)
async def get_booking(
    booking_id: UUID, request: Request, queries: Queries, consistency: ResourceConsistency
) -> Response:
    return tagged_response(request, await queries.booking(booking_id, consistency))


@router.get(
    "/bookings",
    tags=["bookings"],
    summary="List bookings by owner, customer email, event and status; newest first",
    response_model=Page[BookingView],
    responses=_LIST,
)
async def list_bookings(
    request: Request,
    queries: Queries,
    consistency: ListConsistency,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    customer_email: Annotated[str | None, Query(max_length=320)] = None,
    event_id: UUID | None = None,
    status: BookingStatus | None = None,
    page: PageNumber = 1,
    size: PageSize = DEFAULT_PAGE_SIZE,
) -> Response:
    filters = BookingFilters(
        owner_id=owner_id, customer_email=customer_email, event_id=event_id, status=status
    )
    return tagged_response(request, await queries.bookings(filters, page, size, consistency))


@router.get(
    "/positions",
    tags=["projection"],
    summary="Applied offset and producer position per topic-partition, and the lag",
    response_model=PositionsView,
)
async def positions(request: Request, queries: Queries) -> PositionsView:
    position_topics: tuple[str, ...] = request.app.state.position_topics
    return await queries.positions(position_topics)
