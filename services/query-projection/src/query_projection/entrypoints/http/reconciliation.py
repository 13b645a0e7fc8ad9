"""Routes booking-command's reconciliation calls after a restore of its event store."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from query_projection.application.reconciliation import Reconciliation
from query_projection.domain.set_aside import SetAside as SetAsideEntry
from service_kit.errors import ForbiddenError, NotFoundError
from service_kit.http_errors import error_responses
from service_kit.internal_auth import Caller, VerifiedCaller
from ticketing_contracts.internal_http import BOOKING_COMMAND
from ticketing_contracts.reconciliation import EventIds, ReadModelEvent, SetAside, SetAsideAnswer

router = APIRouter(prefix="/internal/v1/reconciliation", tags=["reconciliation"])


async def booking_command_caller(caller: VerifiedCaller) -> Caller:
    """booking-command's own token: its reconciliation is the one that asks."""
    if not caller.is_service(BOOKING_COMMAND):
        raise ForbiddenError("only booking-command's own token may reconcile the read models")
    return caller


async def get_reconciliation(request: Request) -> Reconciliation:
    reconciliation: Reconciliation = request.app.state.reconciliation
    return reconciliation


ReconciliationDep = Annotated[Reconciliation, Depends(get_reconciliation)]
BookingCommand = Annotated[Caller, Depends(booking_command_caller)]


@router.get(
    "/events",
    response_model=EventIds,
    summary="Every event the read models know, and the highest event-store position applied",
    responses=error_responses(401, 403),
)
async def events(reconciliation: ReconciliationDep, _: BookingCommand) -> EventIds:
    return await reconciliation.events()


@router.get(
    "/events/{event_id}",
    response_model=ReadModelEvent,
    summary="An event's availability and every booking of it, as the read models show them",
    responses=error_responses(401, 403, 404),
)
async def event(
    event_id: UUID, reconciliation: ReconciliationDep, _: BookingCommand
) -> ReadModelEvent:
    found = await reconciliation.event(event_id)
    if found is None:
        raise NotFoundError(f"Event {event_id} is not in the read models")
    return found


@router.put(
    "/set-aside",
    response_model=SetAsideAnswer,
    summary="Set aside the facts the event store no longer holds (after a restore)",
    description=(
        "For each aggregate, the facts recorded up to `recorded_until` that the event store "
        "holds; every other one of them is left out of the read models from then on: when "
        "read again, and by every rebuild (`python -m query_projection rebuild`, which the "
        "reconciliation asks for next). A later call about the same aggregate replaces the "
        "earlier one. Only booking-command's own token: 403 for anyone else's."
    ),
    responses=error_responses(401, 403, 422),
)
async def set_aside(
    body: SetAside, reconciliation: ReconciliationDep, _: BookingCommand
) -> SetAsideAnswer:
    entries = [
        SetAsideEntry(fact.subject, frozenset(fact.held_event_ids), fact.recorded_until)
        for fact in body.facts
    ]
    return SetAsideAnswer(set_aside=await reconciliation.set_aside_facts(entries))
