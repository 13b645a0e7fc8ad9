"""The door: scans online and synced from offline scanners, what a scanner downloads, and
how far check-in has got."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from entry.application.access import check_door_staff, known_event
from entry.application.ports import DoorTransaction, TicketSigner, TicketStore
from entry.domain.scans import NOT_A_TICKET, WRONG_EVENT, admitted, is_conflict, refusal
from service_kit.internal_auth import Caller
from ticketing_contracts.tickets import (
    CheckInProgress,
    ScanAnswer,
    ScannerData,
    ScanRequest,
    ScanSync,
    ScanSyncAnswer,
    SyncedScan,
    parse_qr_payload,
)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CheckIn:
    def __init__(self, store: TicketStore, signer: TicketSigner, clock: Clock = _utc_now) -> None:
        self._store = store
        self._signer = signer
        self._clock = clock

    async def scan(self, event_id: UUID, request: ScanRequest, caller: Caller) -> ScanAnswer:
        await self._check_door(event_id, caller)
        async with self._store.door() as door:
            return await self._scan(
                door, event_id, request.code, request.qr_payload, self._clock(), request.entrance
            )

    async def sync(self, event_id: UUID, sync: ScanSync, caller: Caller) -> ScanSyncAnswer:
        """Each offline scan in the order it happened, checked in at the time it happened;
        a scan synced before answers as it did then."""
        await self._check_door(event_id, caller)
        results: dict[UUID, SyncedScan] = {}
        for scan in sorted(sync.scans, key=lambda scan: scan.scanned_at):
            if scan.scan_id in results:
                continue
            async with self._store.door() as door:
                earlier = await door.claim_scan(scan.scan_id, event_id)
                if earlier is not None:
                    answer, conflict = earlier
                else:
                    answer = await self._scan(
                        door, event_id, scan.code, scan.qr_payload, scan.scanned_at, sync.entrance
                    )
                    conflict = is_conflict(scan.admitted_offline, answer)
                    await door.record_scan(scan.scan_id, answer, conflict)
            results[scan.scan_id] = SyncedScan(
                scan_id=scan.scan_id, answer=answer, conflict=conflict
            )
        return ScanSyncAnswer(results=[results[scan.scan_id] for scan in sync.scans])

    async def scanner_data(self, event_id: UUID, caller: Caller) -> ScannerData:
        event = await self._check_door(event_id, caller)
        return ScannerData(
            event_id=event_id,
            event_name=event,
            public_key=self._signer.public_key(event_id),
            generated_at=self._clock(),
            tickets=await self._store.scanner_tickets(event_id),
        )

    async def progress(self, event_id: UUID, caller: Caller) -> CheckInProgress:
        event = await self._check_door(event_id, caller)
        ticket_types = await self._store.progress(event_id)
        return CheckInProgress(
            event_id=event_id,
            event_name=event,
            issued=sum(progress.issued for progress in ticket_types),
            checked_in=sum(progress.checked_in for progress in ticket_types),
            ticket_types=ticket_types,
        )

    async def _check_door(self, event_id: UUID, caller: Caller) -> str:
        """The event's name, for a caller who works its doors."""
        event = await known_event(self._store, event_id)
        await check_door_staff(self._store, caller, event_id)
        return event.name

    async def _scan(
        self,
        door: DoorTransaction,
        event_id: UUID,
        code: str | None,
        payload: str | None,
        at: datetime,
        entrance: str,
    ) -> ScanAnswer:
        if payload is not None:
            parsed = parse_qr_payload(payload)
            if parsed is None or not self._signer.verifies(parsed):
                return NOT_A_TICKET
            if parsed.event_id != event_id:
                return WRONG_EVENT
            code = parsed.code
        if code is None:
            return NOT_A_TICKET
        found = await door.find_code(code)
        if found is None:
            return NOT_A_TICKET
        if found.event_id != event_id:
            return WRONG_EVENT
        ticket = found.ticket
        if ticket.admissible and await door.check_in(ticket.ticket_id, at, entrance):
            return admitted(ticket, at, entrance)
        if not ticket.retired:
            # Another door may have checked it in since it was read.
            ticket = await door.ticket_at_door(ticket.ticket_id)
        return refusal(ticket)
