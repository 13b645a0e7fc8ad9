"""Identical anonymous reads share one call to query-projection.

During a flash sale thousands of clients ask for the same event and its availability.
Concurrent identical anonymous reads wait for one downstream call, and its answer
(with its ETag) serves identical reads for `fresh_seconds` more (a bound of a few
hundred milliseconds: the read model itself trails the writes by more). Errors are
shared only by the reads that waited for them, never kept. Reads that must see the
caller's own writes never come here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

from gateway.application.ports import DownstreamResponse

MAX_ENTRIES = 10_000


class CoalescedReads:
    def __init__(self, fresh_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._fresh = fresh_seconds
        self._clock = clock
        self._answers: dict[Hashable, tuple[float, DownstreamResponse]] = {}
        self._in_flight: dict[Hashable, asyncio.Task[DownstreamResponse]] = {}

    async def get(
        self, key: Hashable, fetch: Callable[[], Awaitable[DownstreamResponse]]
    ) -> DownstreamResponse:
        kept = self._answers.get(key)
        if kept is not None and self._clock() - kept[0] < self._fresh:
            return kept[1]
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, fetch))
            self._in_flight[key] = task
            task.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch(
        self, key: Hashable, fetch: Callable[[], Awaitable[DownstreamResponse]]
    ) -> DownstreamResponse:
        answer = await fetch()
        if self._fresh > 0:
            if len(self._answers) >= MAX_ENTRIES:
                self._answers.clear()
            self._answers[key] = (self._clock(), answer)
        return answer
