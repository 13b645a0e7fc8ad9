"""Expires PENDING holds that inventory has not answered in time.

Due holds are found in the event store's hold table, written in the same
transaction as the bookings, so a restarted service picks up where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor

logger = logging.getLogger(__name__)

IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 300.0


class HoldExpiryWorker:
    def __init__(
        self,
        app: BookingCommandApplication,
        executor: EventStoreExecutor,
        *,
        interval_seconds: float,
        on_expired: Callable[[int], None] = lambda count: None,
    ) -> None:
        self.app = app
        self.executor = executor
        self.interval_seconds = interval_seconds
        self._on_expired = on_expired
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0.0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="hold-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

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
            expired = await self.executor.run(self.app.expire_due_holds)
            total += expired
            if expired:
                self._on_expired(expired)
            if expired < 200:
                break
        if time.monotonic() - self._last_purge > IDEMPOTENCY_PURGE_INTERVAL_SECONDS:
            await self.executor.run(self.app.purge_idempotency_records)
            self._last_purge = time.monotonic()
        return total
