"""Venue commands."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from booking_command.application import commands
from booking_command.application.message_bus import Message
from booking_command.application.results import Answer
from booking_command.application.views import venue_view
from booking_command.domain.venue import Venue
from booking_command.entrypoints.http.deps import (
    AdminCallerDep,
    BusDep,
    CatalogCallerDep,
    IdempotencyKeyDep,
    claim,
)
from booking_command.entrypoints.http.responses import command_response
from booking_command.entrypoints.http.schemas import VenueResponse
from service_kit.http_errors import error_responses
from ticketing_contracts.commands import CreateVenue, UpdateVenue

router = APIRouter(prefix="/internal/v1/venues", tags=["venues"])


def created(venue: Venue) -> Answer:
    return Answer(201, venue_view(venue))


def changed(venue: Venue) -> Answer:
    return Answer(200, venue_view(venue))


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
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.RegisterVenue(name=body.name, capacity=body.capacity, address=body.address)
    result = await bus.handle(Message(command, created, claim(request, caller, key, body)))
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
    bus: BusDep,
    caller: CatalogCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.UpdateVenue(
        venue_id, name=body.name, capacity=body.capacity, address=body.address
    )
    result = await bus.handle(Message(command, changed, claim(request, caller, key, body)))
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
    bus: BusDep,
    caller: AdminCallerDep,
    key: IdempotencyKeyDep,
) -> JSONResponse:
    command = commands.DeleteVenue(venue_id)
    result = await bus.handle(Message(command, changed, claim(request, caller, key, None)))
    return command_response(result)
