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

    async def stop(self, within_seconds: float = 10.0) -> None:
        """Cancels the loop and waits for it to end, at most `within_seconds`: a loop that
        does not end when cancelled is logged and left, not allowed to hold up shutdown."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=within_seconds)
            if not done:
                logger.error(
                    "%s did not stop within %.0f s of being cancelled", self.name, within_seconds
                )
                return
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()

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


class WokenRounds:
    """A worker's loop: `one_round()` runs again at once while it reports more to do, and
    otherwise after `wake()` or `idle_seconds`, whichever comes first. A failed round is
    logged and tried again after that wait."""

    def __init__(
        self, name: str, one_round: Callable[[], Awaitable[bool]], idle_seconds: float
    ) -> None:
        self._one_round = one_round
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self.task = BackgroundTask(name, self.run)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                more = await self._one_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: round failed", self.task.name)
                more = False
            if more:
                continue
            # Not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives as the
            # wake-up completes, and stop() would wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_seconds):
                    await self._wake.wait()
