"""Fills Redis's read models again from PostgreSQL's after Redis was away or came back empty.

PostgreSQL's read models hold every row Redis's do (stock per ticket type, every booking's
status and version) and keep committing while Redis is away, so they are the source: no
replay from the broker is needed. A round, every `REDIS_CHECK_SECONDS` on every replica:

- the active generation's `filled` key is there and this process missed no write: Redis
  is complete; its availability and popular events are served again;
- the key is missing (Redis restarted empty, or another replica is filling after missing
  writes) or this process skipped writes while Redis was away: it drops the key (so other
  replicas stop serving Redis's availability meanwhile), copies every stock row and every
  booking into Redis, and sets the key again, unless it missed writes while copying (then
  the next round copies again).

Copies are written with the same version-guarded scripts as the projection's writes, so a
newer status written meanwhile is never replaced by an older one read from PostgreSQL.
"""

from __future__ import annotations

import logging
import time

from query_projection.application.ports import (
    FillableHotReadModels,
    HotViewsUnavailable,
    ReadModelStore,
    StoredHotRows,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000


class HotRefill:
    def __init__(
        self,
        store: ReadModelStore,
        rows: StoredHotRows,
        hot: FillableHotReadModels,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._store = store
        self._rows = rows
        self._hot = hot
        self._page_size = page_size

    async def __call__(self) -> bool:
        """One round; True when it should run again at once (writes missed while filling)."""
        generation = await self._store.active_generation()
        try:
            if not self._hot.missed_writes and await self._hot.is_filled(generation):
                self._hot.serving = generation
                return False
            return not await self._fill(generation)
        except HotViewsUnavailable as error:
            logger.debug("Redis read models not checked: %s", error)
            return False

    async def _fill(self, generation: int) -> bool:
        """True once Redis holds everything PostgreSQL held when the copy began."""
        started = time.monotonic()
        self._hot.serving = None
        self._hot.missed_writes = False
        await self._hot.mark_filled(generation, filled=False)
        stock = await self._rows.stock(generation)
        await self._hot.fill(generation, stock, [])
        bookings, after = 0, None
        while page := await self._rows.bookings_after(generation, after, self._page_size):
            await self._hot.fill(generation, [], page)
            bookings += len(page)
            after = page[-1].booking_id
        if self._hot.missed_writes:
            return False
        await self._hot.mark_filled(generation)
        self._hot.serving = generation
        logger.info(
            "Redis read models of generation %d filled from PostgreSQL: %d stock levels, "
            "%d bookings in %.1fs",
            generation,
            len(stock),
            bookings,
            time.monotonic() - started,
        )
        return True
