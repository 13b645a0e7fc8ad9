"""Which bookings are stored: inventory asks before it releases a hold no booking claimed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from booking_command.entrypoints.http.deps import ReadsDep
from service_kit.errors import ForbiddenError
from service_kit.http_errors import error_responses
from service_kit.internal_auth import Caller, VerifiedCaller
from ticketing_contracts.holds import KnownBookings, KnownBookingsQuestion
from ticketing_contracts.internal_http import INVENTORY

router = APIRouter(prefix="/internal/v1/bookings", tags=["bookings"])


async def inventory_caller(caller: VerifiedCaller) -> Caller:
    """Inventory's own token: its sweeper is the one that asks. Not a person's question,
    nor the gateway's, which never asks it."""
    if not caller.is_service(INVENTORY):
        raise ForbiddenError("only inventory's own token may ask which bookings exist")
    return caller


@router.post(
    "/known",
    response_model=KnownBookings,
    summary="Which of these booking ids are stored bookings (inventory's unclaimed holds)",
    description=(
        "Answers 200 with the asked ids that are bookings in the event store, whatever "
        "their status; ids of anything else, or of nothing, are left out, and from then on "
        "no booking with a left-out id is ever stored (a commit racing the question either "
        "lands first and is answered known, or fails). Inventory asks before it releases a "
        "hold that no booking fact has claimed in time, and releases only those left out. "
        "Only inventory's own token (issuer `inventory`, role "
        "`service`) may ask: 403 for a person's, the gateway's or another service's."
    ),
    responses=error_responses(401, 403, 422),
)
async def known_bookings(
    question: KnownBookingsQuestion,
    reads: ReadsDep,
    _: Annotated[Caller, Depends(inventory_caller)],
) -> KnownBookings:
    asked = list(dict.fromkeys(question.booking_ids))
    stored = await reads.known_bookings(asked)
    return KnownBookings(known=[i for i in asked if i in stored])
