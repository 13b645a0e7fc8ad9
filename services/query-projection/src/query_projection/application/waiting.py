"""Read-your-writes: wait, with a bound, until the read models have reached a point."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection

from query_projection.application.ports import EndOffsets, ReadModelStore
from query_projection.domain.positions import TopicPartition, position_reached, position_seen
from service_kit.errors import DependencyUnavailableError


class ReadModelBehind(DependencyUnavailableError):
    error_type = "read_model_behind"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, retry_after_seconds=1)


class ProgressSignal:
    """Wakes waiters as soon as the projection commits a batch: this process's consumer
    notifies it directly, other replicas' through the store's progress notifications."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """Set by the next `notify()`; taken before a check so no progress slips between."""
        return self._changed


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout_seconds: float, signal: ProgressSignal
) -> bool:
    """True as soon as `check()` holds; False when it still does not after the timeout.

    `check` runs once at the start and then only after the projection signals progress:
    waiting costs nothing while the projection stands still.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        changed = signal.next_change()
        if await check():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(changed.wait(), remaining)
        except TimeoutError:
            return False


class PositionWaiter:
    def __init__(
        self,
        store: ReadModelStore,
        end_offsets: EndOffsets,
        topics: Collection[str],
        signal: ProgressSignal,
    ) -> None:
        self._store = store
        self._end_offsets = end_offsets
        self._topics = tuple(topics)
        self.signal = signal

    async def reached(self, target: int, timeout_seconds: float) -> bool:
        ends: dict[TopicPartition, int] | None = None

        async def check() -> bool:
            nonlocal ends
            progress = await self._store.progress(self._topics)
            if not position_seen(target, progress):
                return False
            if ends is None:
                # Read once N is seen: everything before N was published by then.
                ends = await self._end_offsets.end_offsets(self._topics)
            return position_reached(target, progress, ends)

        return await wait_until(check, timeout_seconds, self.signal)

    async def require(self, target: int | None, wait_ms: int) -> None:
        if target is None:
            return
        if not await self.reached(target, wait_ms / 1000):
            raise ReadModelBehind(
                f"read models have not reached position {target} within {wait_ms} ms"
            )
