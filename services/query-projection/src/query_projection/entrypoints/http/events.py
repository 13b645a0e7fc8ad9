"""Events (PostgreSQL), their availability and popularity (Redis)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from query_projection.application.views import (
    AvailabilityView,
    EventDetailsView,
    EventFilters,
    EventSort,
    EventStatusFilter,
    EventSummaryView,
    Page,
    PopularEventView,
)
from query_projection.entrypoints.http.deps import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ListConsistency,
    PageNumber,
    PageSize,
    Queries,
    ResourceConsistency,
)
from query_projection.entrypoints.http.responses import LIST, SINGLE, tagged_response
from service_kit.errors import InvalidInputError

router = APIRouter(prefix="/internal/v1", tags=["events"])


@router.get(
    "/events",
    summary="Search events by text, venue, date range and status; sorted and paginated",
    response_model=Page[EventSummaryView],
    responses=LIST,
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


# Declared before /events/{event_id} so "popular" is not read as an event id.
@router.get(
    "/events/popular",
    summary="Events with the most tickets sold (Redis)",
    response_model=list[PopularEventView],
    responses=LIST,
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
    summary="Get an event with its venue and ticket types (price, quantity, availability)",
    response_model=EventDetailsView,
    responses=SINGLE,
)
async def get_event(
    event_id: UUID, request: Request, queries: Queries, consistency: ResourceConsistency
) -> Response:
    return tagged_response(request, await queries.event(event_id, consistency))


@router.get(
    "/events/{event_id}/availability",
    summary="Remaining tickets per ticket type (Redis), with sold_out flags",
    response_model=AvailabilityView,
    responses=SINGLE,
)
async def get_availability(
    event_id: UUID, request: Request, queries: Queries, consistency: ListConsistency
) -> Response:
    return tagged_response(request, await queries.availability(event_id, consistency))
