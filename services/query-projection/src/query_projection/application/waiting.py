"""Read-your-writes: wait, with a bound, until the read models have reached a point."""

from __future__ import annotations

import asyncio
import contextlib
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
    """Wakes waiters in this process as soon as the local consumer commits a batch."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), seconds)


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    timeout_seconds: float,
    signal: ProgressSignal,
    poll_interval: float = 0.02,
) -> bool:
    """True as soon as `check()` holds; False when it still does not after the timeout.

    Other replicas' progress is only seen by polling, so the wait is capped at
    `poll_interval` between checks even without a local signal.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        if await check():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        await signal.wait(min(poll_interval, remaining))


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
