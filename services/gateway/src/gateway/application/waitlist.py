"""The waitlist of a sold-out ticket type: every call goes to inventory with the caller's
credential.

Inventory keeps the waitlist next to the stock it hands out and decides everything there:
joining only while the ticket type is sold out to general sale (409 `not_sold_out`), one
open entry per account and ticket type, the purchase limits, whose entry is whose (someone
else's answers 404), the offers. The gateway checks the global roles it owns (joining needs
a role that may book; the organiser's view needs one that watches sales) and the bodies.
"""

from __future__ import annotations

import uuid

from gateway.application.ports import Downstream, DownstreamResponse
from gateway.domain.users import Caller
from ticketing_contracts.waitlist import JoinWaitlist

EVENTS = "/internal/v1/events"
ENTRIES = "/internal/v1/waitlist/entries"


class WaitlistService:
    def __init__(self, inventory: Downstream) -> None:
        self._inventory = inventory

    async def join(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        ticket_type_id: uuid.UUID,
        join: JoinWaitlist,
    ) -> DownstreamResponse:
        return await self._inventory.request(
            "POST",
            f"{EVENTS}/{event_id}/ticket-types/{ticket_type_id}/waitlist",
            caller=caller,
            body=join.model_dump_json().encode(),
        )

    async def entries(self, caller: Caller) -> DownstreamResponse:
        return await self._inventory.request("GET", ENTRIES, caller=caller)

    async def leave(self, caller: Caller, entry_id: uuid.UUID) -> DownstreamResponse:
        return await self._inventory.request("DELETE", f"{ENTRIES}/{entry_id}", caller=caller)

    async def decline(self, caller: Caller, entry_id: uuid.UUID) -> DownstreamResponse:
        return await self._inventory.request("POST", f"{ENTRIES}/{entry_id}/decline", caller=caller)

    async def event_waitlist(self, caller: Caller, event_id: uuid.UUID) -> DownstreamResponse:
        return await self._inventory.request("GET", f"{EVENTS}/{event_id}/waitlist", caller=caller)
