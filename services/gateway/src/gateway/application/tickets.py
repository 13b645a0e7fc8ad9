"""Tickets and check-in: every call goes to entry with the caller's credential.

Entry decides who may see a booking's tickets (its owner or an admin; 404 for anyone
else) and who may scan at an event (its door staff, managers, admins; 403 `not_door_staff`
otherwise): the door-staff role is scoped to one event, which only entry knows. The gateway
checks the global roles it owns (assigning door staff, re-issuing) and the bodies' shape.
"""

from __future__ import annotations

import uuid

from gateway.application.ports import Downstream, DownstreamResponse
from gateway.domain.users import Caller
from ticketing_contracts.tickets import ScanRequest, ScanSync

BOOKINGS = "/internal/v1/bookings"
EVENTS = "/internal/v1/events"
TICKETS = "/internal/v1/tickets"


class TicketService:
    def __init__(self, entry: Downstream) -> None:
        self._entry = entry

    async def booking_tickets(self, caller: Caller, booking_id: uuid.UUID) -> DownstreamResponse:
        return await self._entry.request("GET", f"{BOOKINGS}/{booking_id}/tickets", caller=caller)

    async def booking_tickets_pdf(
        self, caller: Caller, booking_id: uuid.UUID
    ) -> DownstreamResponse:
        return await self._entry.request(
            "GET", f"{BOOKINGS}/{booking_id}/tickets.pdf", caller=caller
        )

    async def reissue(self, caller: Caller, ticket_id: uuid.UUID) -> DownstreamResponse:
        return await self._entry.request("POST", f"{TICKETS}/{ticket_id}/reissue", caller=caller)

    async def door_staff(self, caller: Caller, event_id: uuid.UUID) -> DownstreamResponse:
        return await self._entry.request("GET", f"{EVENTS}/{event_id}/door-staff", caller=caller)

    async def assign_door_staff(
        self, caller: Caller, event_id: uuid.UUID, user_id: str
    ) -> DownstreamResponse:
        return await self._entry.request(
            "PUT", f"{EVENTS}/{event_id}/door-staff/{user_id}", caller=caller
        )

    async def remove_door_staff(
        self, caller: Caller, event_id: uuid.UUID, user_id: str
    ) -> DownstreamResponse:
        return await self._entry.request(
            "DELETE", f"{EVENTS}/{event_id}/door-staff/{user_id}", caller=caller
        )

    async def check_in(
        self, caller: Caller, event_id: uuid.UUID, scan: ScanRequest
    ) -> DownstreamResponse:
        return await self._entry.request(
            "POST",
            f"{EVENTS}/{event_id}/check-ins",
            caller=caller,
            body=scan.model_dump_json(exclude_none=True).encode(),
        )

    async def sync_check_ins(
        self, caller: Caller, event_id: uuid.UUID, sync: ScanSync
    ) -> DownstreamResponse:
        return await self._entry.request(
            "POST",
            f"{EVENTS}/{event_id}/check-ins/sync",
            caller=caller,
            body=sync.model_dump_json(exclude_none=True).encode(),
        )

    async def scanner_data(self, caller: Caller, event_id: uuid.UUID) -> DownstreamResponse:
        return await self._entry.request("GET", f"{EVENTS}/{event_id}/scanner-data", caller=caller)

    async def check_in_progress(self, caller: Caller, event_id: uuid.UUID) -> DownstreamResponse:
        return await self._entry.request(
            "GET", f"{EVENTS}/{event_id}/check-in-progress", caller=caller
        )
