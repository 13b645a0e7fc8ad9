"""Expires PENDING holds that inventory has not answered in time, and old idempotency keys.

Due holds are found in the event store's hold table, written in the same
transaction as the bookings, so a restarted service picks up where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from uuid import UUID

from booking_command.application.executor import EventStoreExecutor
from booking_command.application.idempotency import Idempotency
from booking_command.application.persistence import AggregateStore, stamp_correlation
from booking_command.application.ports import HoldChange, RowsWithEvents
from booking_command.domain.booking import Booking
from booking_command.domain.correlated import Correlated
from service_kit.background import BackgroundTask
from service_kit.errors import ConflictError, NotFoundError
from service_kit.request_context import new_id

logger = logging.getLogger(__name__)

EXPIRY_BATCH = 200
IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 300.0


class HoldExpiry:
    def __init__(self, store: AggregateStore) -> None:
        self._store = store

    def expire_due_holds(self, limit: int = EXPIRY_BATCH) -> int:
        """Expires PENDING bookings whose hold has run out; returns how many."""
        now = self._store.clock()
        due = self._store.booking_recorder.expired_holds(now, limit)
        expired: list[Booking] = []
        stale: list[HoldChange] = []
        for booking_id in due:
            try:
                booking = self._store.load(booking_id, Booking, "booking")
            except NotFoundError:
                stale.append(HoldChange(booking_id, None))
                continue
            if not booking.is_pending:
                stale.append(HoldChange(booking_id, None))
                continue
            try:
                booking.expire(now=now)
            except ConflictError:
                continue
            stamp_correlation(booking, self._origin_correlation_id(booking_id))
            expired.append(booking)
        if expired or stale:
            self._store.store(expired, RowsWithEvents(holds=stale))
        return len(expired)

    def _origin_correlation_id(self, booking_id: UUID) -> str:
        """The expiry belongs to the flow of the request that made the booking."""
        first = next(iter(self._store.events.get(booking_id, lte=1)), None)
        return (first.correlation_id if isinstance(first, Correlated) else None) or new_id()


class HoldExpiryWorker:
    def __init__(
        self,
        holds: HoldExpiry,
        idempotency: Idempotency,
        executor: EventStoreExecutor,
        *,
        interval_seconds: float,
        on_expired: Callable[[int], None] = lambda count: None,
    ) -> None:
        self.holds = holds
        self.idempotency = idempotency
        self.executor = executor
        self.interval_seconds = interval_seconds
        self._on_expired = on_expired
        self._task = BackgroundTask("hold-expiry", self.run)
        self._last_purge = 0.0

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    @property
    def alive(self) -> bool:
        return self._task.alive

    async def probe(self) -> None:
        await self._task.probe()

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hold expiry round failed")
            await asyncio.sleep(self.interval_seconds)

    async def run_once(self) -> int:
        total = 0
        while True:
            expired = await self.executor.run(self.holds.expire_due_holds)
            total += expired
            if expired:
                self._on_expired(expired)
            if expired < EXPIRY_BATCH:
                break
        if time.monotonic() - self._last_purge > IDEMPOTENCY_PURGE_INTERVAL_SECONDS:
            await self.executor.run(self.idempotency.purge_expired)
            self._last_purge = time.monotonic()
        return total
