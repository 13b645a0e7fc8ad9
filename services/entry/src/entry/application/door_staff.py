"""Who works an event's doors: accounts of any role, assigned by managers and admins."""

from __future__ import annotations

from uuid import UUID

from entry.application.access import check_organiser, known_event
from entry.application.ports import TicketStore
from service_kit.internal_auth import Caller
from ticketing_contracts.tickets import DoorStaff


class DoorStaffAssignments:
    def __init__(self, store: TicketStore) -> None:
        self._store = store

    async def assign(self, event_id: UUID, user_id: str, caller: Caller) -> None:
        await self._check(event_id, caller, "assign door staff")
        await self._store.assign_door_staff(event_id, user_id, assigned_by=caller.id or "")

    async def remove(self, event_id: UUID, user_id: str, caller: Caller) -> None:
        await self._check(event_id, caller, "remove door staff")
        await self._store.remove_door_staff(event_id, user_id)

    async def list(self, event_id: UUID, caller: Caller) -> DoorStaff:
        await self._check(event_id, caller, "see door staff")
        return DoorStaff(event_id=event_id, user_ids=await self._store.door_staff(event_id))

    async def _check(self, event_id: UUID, caller: Caller, action: str) -> None:
        check_organiser(caller, action)
        await known_event(self._store, event_id)
