"""Venue commands."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from booking_command.entrypoints.http.deps import (
    AdminCallerDep,
    CatalogCallerDep,
    IdempotencyKeyDep,
    ServiceDep,
    claim,
)
from booking_command.entrypoints.http.responses import command_response
from booking_command.entrypoints.http.schemas import VenueResponse
from service_kit.http_errors import error_responses
from ticketing_contracts.commands import CreateVenue, UpdateVenue

router = APIRouter(prefix="/internal/v1/venues", tags=["venues"])


@router.post(
    "",
    status_code=201,
    response_model=VenueResponse,
    summary="Register a venue",
    responses=error_responses(403, 422),
)
async def create_venue(
    body: CreateVenue,
    request: Request,
    service: ServiceDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    prepare = partial(
        service.app.catalog.register_venue,
        name=body.name,
        capacity=body.capacity,
        address=body.address,
    )
    result = await service.execute(prepare, idempotency=claim(request, caller, key, body))
    return command_response(result)


@router.put(
    "/{venue_id}",
    response_model=VenueResponse,
    summary="Change a venue's name, capacity and address",
    responses=error_responses(403, 404, 409, 422),
)
async def update_venue(
    venue_id: UUID,
    body: UpdateVenue,
    request: Request,
    service: ServiceDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    prepare = partial(
        service.app.catalog.update_venue,
        venue_id,
        name=body.name,
        capacity=body.capacity,
        address=body.address,
    )
    result = await service.execute(prepare, idempotency=claim(request, caller, key, body))
    return command_response(result)


@router.delete(
    "/{venue_id}",
    response_model=VenueResponse,
    summary="Delete a venue that has no upcoming events (admin)",
    responses=error_responses(403, 404, 409, 422),
)
async def delete_venue(
    venue_id: UUID,
    request: Request,
    service: ServiceDep,
    caller: AdminCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    prepare = partial(service.app.catalog.delete_venue, venue_id)
    result = await service.execute(prepare, idempotency=claim(request, caller, key, None))
    return command_response(result)
