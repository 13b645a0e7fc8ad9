"""A short-lived, in-process view of what is left per ticket type.

It lets the gateway refuse bookings for sold-out ticket types without touching
the write side during a flash sale. It is only a hint: the write side decides,
so anything unknown or unreadable lets the request through.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.application.ports import Downstream

logger = logging.getLogger(__name__)

Snapshot = dict[str, int]
MAX_CACHED_EVENTS = 10_000


@dataclass(frozen=True)
class _Entry:
    fetched_at: float
    available: Snapshot | None


def parse_availability(body: Any) -> Snapshot:
    """Ticket type id -> tickets still available, from query-projection's availability answer."""
    if not isinstance(body, dict):
        return {}
    ticket_types = body.get("ticket_types", body.get("items", []))
    if isinstance(ticket_types, dict):
        ticket_types = [{"ticket_type_id": key, **value} for key, value in ticket_types.items()]
    snapshot: Snapshot = {}
    for item in ticket_types if isinstance(ticket_types, list) else []:
        if not isinstance(item, dict):
            continue
        ticket_type_id = item.get("ticket_type_id", item.get("id"))
        available = item.get("available")
        if item.get("sold_out") is True:
            available = 0
        if ticket_type_id is not None and isinstance(available, int):
            snapshot[str(ticket_type_id)] = available
    return snapshot


class AvailabilityCache:
    def __init__(
        self,
        queries: Downstream,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queries = queries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        # One fetch per event at a time, however many bookings arrive together.
        self._in_flight: dict[str, asyncio.Task[Snapshot | None]] = {}

    async def available(self, event_id: uuid.UUID, ticket_type_id: uuid.UUID) -> int | None:
        if self._ttl <= 0:
            return None
        snapshot = await self._snapshot(str(event_id))
        return None if snapshot is None else snapshot.get(str(ticket_type_id))

    async def stock(self, event_id: uuid.UUID) -> Snapshot | None:
        """Every ticket type's tickets left (holds counted), read at most the TTL ago; None
        when unknown. Reading an event puts it in the cache for `known_sold_out` too."""
        return await self._snapshot(str(event_id))

    async def known_sold_out(self, event_id: uuid.UUID, ticket_type_id: uuid.UUID) -> bool:
        """True only when stock read at most the TTL ago has nothing left of the ticket type.

        Only an event already in the cache is read again: one first heard of here would let
        any signed-in caller send reads downstream without the booking route's rate limit.
        """
        if self._ttl <= 0 or str(event_id) not in self._entries:
            return False
        available = await self.available(event_id, ticket_type_id)
        return available is not None and available <= 0

    async def _snapshot(self, event_id: str) -> Snapshot | None:
        entry = self._entries.get(event_id)
        if entry is not None and self._clock() - entry.fetched_at < self._ttl:
            return entry.available
        task = self._in_flight.get(event_id)
        if task is None:
            task = asyncio.create_task(self._fetch(event_id))
            self._in_flight[event_id] = task
            task.add_done_callback(lambda _: self._in_flight.pop(event_id, None))
        return await asyncio.shield(task)

    async def _fetch(self, event_id: str) -> Snapshot | None:
        try:
            response = await self._queries.request(
                "GET", f"/internal/v1/events/{event_id}/availability"
            )
            available: Snapshot | None = parse_availability(response.json())
        except Exception as error:
            logger.debug("availability unknown for %s: %s", event_id, error)
            available = None
        if len(self._entries) >= MAX_CACHED_EVENTS:
            self._entries.clear()
        self._entries[event_id] = _Entry(self._clock(), available)
        return available
