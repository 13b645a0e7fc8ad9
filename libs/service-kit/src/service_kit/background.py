"""A named loop that runs beside the HTTP server: start, probe, stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class BackgroundTask:
    """Runs `work()` as a task; readiness fails if it ever stops before `stop()`."""

    def __init__(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        try:
            await self._work()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s stopped unexpectedly", self.name)
            raise

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_stopped(self) -> None:
        """Returns once the loop has ended, whichever way it ended."""
        if self._task is not None:
            await asyncio.wait({self._task})

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def probe(self) -> None:
        if not self.alive:
            raise RuntimeError(f"{self.name} is not running")
