"""Progress notifications between replicas: every committed batch sends a NOTIFY, every
replica LISTENs and wakes its read-your-writes waiters (instead of polling the offsets)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

logger = logging.getLogger(__name__)

PROGRESS_CHANNEL = "projection_progress"
NOTIFY_PROGRESS = f"NOTIFY {PROGRESS_CHANNEL}"


class PostgresProgressListener:
    """Calls `on_progress` for every batch any replica commits; reconnects when the
    connection is lost (and calls it once then, since progress may have been missed)."""

    def __init__(
        self, dsn: str, on_progress: Callable[[], None], retry_seconds: float = 1.0
    ) -> None:
        self._dsn = dsn
        self._on_progress = on_progress
        self._retry_seconds = retry_seconds
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_seconds: float = 10.0) -> None:
        self._task = asyncio.create_task(self._listen(), name="projection-progress-listener")
        await asyncio.wait_for(self._listening.wait(), timeout_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _notified(self, *_: object) -> None:
        self._on_progress()

    async def _listen(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(self._dsn, timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                logger.warning("cannot listen for projection progress; retrying", exc_info=True)
                await asyncio.sleep(self._retry_seconds)
                continue
            try:
                await self._listen_until_lost(connection)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))
            logger.warning("lost the projection progress listener; reconnecting")

    async def _listen_until_lost(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(PROGRESS_CHANNEL, self._notified)
        self._listening.set()
        self._on_progress()
        await lost.wait()
