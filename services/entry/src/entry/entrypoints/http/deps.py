"""Dependencies of the routes: the use cases the bootstrap built. Every route already
requires a valid internal token (the kit's app factory)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from entry.application.check_in import CheckIn
from entry.application.door_staff import DoorStaffAssignments
from entry.application.tickets import BookingTicketsQueries, ReissueTicket


# Dependencies are `async def`: FastAPI runs a plain `def` one on a worker thread per request.
async def get_booking_tickets(request: Request) -> BookingTicketsQueries:
    queries: BookingTicketsQueries = request.app.state.booking_tickets
    return queries


async def get_reissue(request: Request) -> ReissueTicket:
    reissue: ReissueTicket = request.app.state.reissue
    return reissue


async def get_check_in(request: Request) -> CheckIn:
    check_in: CheckIn = request.app.state.check_in
    return check_in


async def get_door_staff(request: Request) -> DoorStaffAssignments:
    door_staff: DoorStaffAssignments = request.app.state.door_staff
    return door_staff


BookingTicketsDep = Annotated[BookingTicketsQueries, Depends(get_booking_tickets)]
ReissueDep = Annotated[ReissueTicket, Depends(get_reissue)]
CheckInDep = Annotated[CheckIn, Depends(get_check_in)]
DoorStaffDep = Annotated[DoorStaffAssignments, Depends(get_door_staff)]
