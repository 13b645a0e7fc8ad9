"""The door: door staff of an event, scans, offline sync, scanner data and progress."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from entry.adapters.metrics import SCANS
from entry.entrypoints.http.deps import CheckInDep, DoorStaffDep
from service_kit.http_errors import error_responses
from service_kit.internal_auth import InternalCaller
from ticketing_contracts.fields import Identifier
from ticketing_contracts.tickets import (
    CheckInProgress,
    DoorStaff,
    ScanAnswer,
    ScannerData,
    ScanRequest,
    ScanSync,
    ScanSyncAnswer,
)

router = APIRouter(prefix="/internal/v1/events/{event_id}", tags=["door"])

_ORGANISERS = (
    "Managers and admins; anyone else 403. 404 `event_not_found` for an event entry has not seen."
)
_DOOR = (
    "The event's door staff, managers and admins; anyone else 403 `not_door_staff`. "
    "404 `event_not_found` for an event entry has not seen."
)


@router.put(
    "/door-staff/{user_id}",
    summary="Let an account (any role) check tickets in at this event's doors",
    description=_ORGANISERS,
    status_code=204,
    responses=error_responses(403, 404, 422),
)
async def assign_door_staff(
    event_id: UUID, user_id: Identifier, caller: InternalCaller, door_staff: DoorStaffDep
) -> Response:
    await door_staff.assign(event_id, user_id, caller)
    return Response(status_code=204)


@router.delete(
    "/door-staff/{user_id}",
    summary="Stop an account checking tickets in at this event",
    description=_ORGANISERS,
    status_code=204,
    responses=error_responses(403, 404, 422),
)
async def remove_door_staff(
    event_id: UUID, user_id: Identifier, caller: InternalCaller, door_staff: DoorStaffDep
) -> Response:
    await door_staff.remove(event_id, user_id, caller)
    return Response(status_code=204)


@router.get(
    "/door-staff",
    summary="The accounts assigned to this event's doors",
    description=_ORGANISERS,
    response_model=DoorStaff,
    responses=error_responses(403, 404, 422),
)
async def list_door_staff(
    event_id: UUID, caller: InternalCaller, door_staff: DoorStaffDep
) -> DoorStaff:
    return await door_staff.list(event_id, caller)


@router.post(
    "/check-ins",
    summary="Scan a ticket at the door: by its code or its QR payload",
    description=(
        "200 for every result; `result` says it: admitted, already_checked_in (when and "
        "where first), voided (why), wrong_event, not_a_ticket. Two doors scanning the same "
        "ticket at once admit it once. " + _DOOR
    ),
    response_model=ScanAnswer,
    responses=error_responses(403, 404, 422),
)
async def check_in(
    event_id: UUID, scan: ScanRequest, caller: InternalCaller, door: CheckInDep
) -> ScanAnswer:
    answer = await door.scan(event_id, scan, caller)
    SCANS.labels(result=answer.result, mode="online").inc()
    return answer


@router.post(
    "/check-ins/sync",
    summary="Apply the scans an offline scanner made, in the order they happened",
    description=(
        "Each scan is checked in at its `scanned_at`; a scan_id synced before answers as it "
        "did the first time. `conflict`: the scanner admitted someone the server would not "
        "have. At most 500 scans per call. " + _DOOR
    ),
    response_model=ScanSyncAnswer,
    responses=error_responses(403, 404, 422),
)
async def sync_check_ins(
    event_id: UUID, sync: ScanSync, caller: InternalCaller, door: CheckInDep
) -> ScanSyncAnswer:
    synced = await door.sync(event_id, sync, caller)
    for result in synced.results:
        SCANS.labels(result=result.answer.result, mode="offline").inc()
    return synced


@router.get(
    "/scanner-data",
    summary="What a scanner downloads to work offline: the event's public key and tickets",
    description=_DOOR,
    response_model=ScannerData,
    responses=error_responses(403, 404, 422),
)
async def scanner_data(event_id: UUID, caller: InternalCaller, door: CheckInDep) -> ScannerData:
    return await door.scanner_data(event_id, caller)


@router.get(
    "/check-in-progress",
    summary="How many tickets are issued and checked in, per ticket type",
    description=_DOOR,
    response_model=CheckInProgress,
    responses=error_responses(403, 404, 422),
)
async def check_in_progress(
    event_id: UUID, caller: InternalCaller, door: CheckInDep
) -> CheckInProgress:
    return await door.progress(event_id, caller)
