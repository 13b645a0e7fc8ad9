"""When an event's sale starts, as the waiting rooms need it: from the catalog's event read
(`sale_starts_at`; absent or null means the sale has started)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.application.ports import Downstream
from service_kit.errors import DependencyUnavailableError

logger = logging.getLogger(__name__)

EVENTS = "/internal/v1/events"


class SaleStarts(Protocol):
    async def sale_starts_at(self, event_id: uuid.UUID) -> datetime | None:
        """When the event's sale starts (None: no time set, it has started); NotFoundError
        for an unknown event, DependencyUnavailableError when it cannot be read."""
        ...


def _sale_start_of(document: Any) -> datetime | None:
    value = document.get("sale_starts_at") if isinstance(document, dict) else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        logger.warning("unreadable sale_starts_at %r: the sale is treated as started", value)
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Known:
    read_at: float
    sale_starts_at: datetime | None


class CatalogSaleStarts:
    """The event's `sale_starts_at` from query-projection's event read, kept `ttl_seconds`
    (one read at a time per event). When a read fails, the last value read is used."""

    def __init__(
        self,
        queries: Downstream,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queries = queries
        self._ttl = ttl_seconds
        self._clock = clock
        self._known: dict[uuid.UUID, _Known] = {}
        self._in_flight: dict[uuid.UUID, asyncio.Task[datetime | None]] = {}

    async def sale_starts_at(self, event_id: uuid.UUID) -> datetime | None:
        known = self._known.get(event_id)
        if known is not None and self._clock() - known.read_at < self._ttl:
            return known.sale_starts_at
        task = self._in_flight.get(event_id)
        if task is None:
            task = asyncio.create_task(self._read(event_id))
            self._in_flight[event_id] = task
            task.add_done_callback(lambda _: self._in_flight.pop(event_id, None))
        try:
            return await asyncio.shield(task)
        except DependencyUnavailableError:
            if known is None:
                raise
            return known.sale_starts_at

    async def _read(self, event_id: uuid.UUID) -> datetime | None:
        response = await self._queries.request("GET", f"{EVENTS}/{event_id}")
        starts = _sale_start_of(response.json())
        self._known[event_id] = _Known(self._clock(), starts)
        return starts
