"""Venues: writes by managers (delete: admins), reads by anyone."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from gateway.application.catalog import Page, ReadOptions
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
from gateway.entrypoints.http.schemas import PageOf, VenueOut
from service_kit.http_errors import error_responses
from ticketing_contracts.commands import CreateVenue, UpdateVenue

router = APIRouter(prefix=f"{API_PREFIX}/venues", tags=["venues"], dependencies=[DefaultRateLimit])

PageNumber = Annotated[int, Query(ge=1, le=10_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page")]
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag in If-None-Match is current"}
}


@router.post(
    "",
    status_code=201,
    response_model=VenueOut,
    summary="Create a venue (manager, admin)",
    responses=error_responses(400, 401, 403, 409, 413, 422, 429, 503),
)
async def create_venue(
    body: CreateVenue,
    caller: CatalogManager,
    services: Services,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    outcome = await services.catalog.create_venue(caller, body, idempotency_key)
    location = f"/api/v1/venues/{outcome.resource_id}" if outcome.resource_id else None
    return command_response(outcome, status_code=201, location=location)


@router.get(
    "",
    response_model=PageOf[VenueOut],
    summary="List venues",
    responses={**NOT_MODIFIED, **error_responses(401, 422, 429, 503)},
)
async def list_venues(
    caller: OptionalCaller,
    services: Services,
    page: PageNumber = 1,
    size: PageSize = 20,
    read_position: ReadPosition = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    result = await services.catalog.list_venues(
        caller, Page(page, size), ReadOptions(read_position, if_none_match)
    )
    cache = catalog_cache_control(caller, services.settings.public_cache_max_age_seconds)
    return query_response(result, if_none_match=if_none_match, cache_control=cache)


@router.get(
    "/{venue_id}",
    response_model=VenueOut,
    summary="Get a venue",
    responses={**NOT_MODIFIED, **error_responses(401, 404, 422, 429, 503)},
)
async def get_venue(
    venue_id: uuid.UUID,
    caller: OptionalCaller,
    services: Services,
    read_position: ReadPosition = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    result = await services.catalog.venue(
        caller, venue_id, ReadOptions(read_position, if_none_match)
    )
    cache = catalog_cache_control(caller, services.settings.public_cache_max_age_seconds)
    return query_response(result, if_none_match=if_none_match, cache_control=cache)


@router.put(
    "/{venue_id}",
    response_model=VenueOut,
    summary="Update a venue (manager, admin)",
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
)
async def update_venue(
    venue_id: uuid.UUID, body: UpdateVenue, caller: CatalogManager, services: Services
) -> Response:
    outcome = await services.catalog.update_venue(caller, venue_id, body)
    return command_response(outcome, status_code=200)


@router.delete(
    "/{venue_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a venue (admin)",
    responses=error_responses(401, 403, 404, 409, 429, 503),
)
async def delete_venue(venue_id: uuid.UUID, caller: Admin, services: Services) -> Response:
    outcome = await services.catalog.delete_venue(caller, venue_id)
    return command_response(outcome, status_code=204)
