"""Venues read model (PostgreSQL)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from query_projection.application.views import Page, VenueView
from query_projection.entrypoints.http.deps import (
    DEFAULT_PAGE_SIZE,
    ListConsistency,
    PageNumber,
    PageSize,
    Queries,
    ResourceConsistency,
)
from query_projection.entrypoints.http.responses import LIST, SINGLE, tagged_response

router = APIRouter(prefix="/internal/v1", tags=["venues"])


@router.get(
    "/venues",
    summary="List venues (deleted ones excluded), by name",
    response_model=Page[VenueView],
    responses=LIST,
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
    summary="Get a venue; deleted venues answer 404",
    response_model=VenueView,
    responses=SINGLE,
)
async def get_venue(
    venue_id: UUID, request: Request, queries: Queries, consistency: ResourceConsistency
) -> Response:
    return tagged_response(request, await queries.venue(venue_id, consistency))
