"""Read-your-writes waits look at the store only when the projection signals progress."""

from __future__ import annotations

import asyncio

from query_projection.application.waiting import PositionWaiter, ProgressSignal
from query_projection.domain.positions import PartitionProgress

TOPIC = "catalog"


class CountingStore:
    def __init__(self) -> None:
        self.applied = PartitionProgress(
            TOPIC, 0, next_offset=3, last_position=7, last_occurred_at=None
        )
        self.queries = 0

    async def progress(self, topics, generation=None):
        self.queries += 1
        return [self.applied]


class FixedEndOffsets:
    def __init__(self, ends):
        self.ends = ends

    async def end_offsets(self, topics):
        return self.ends


def a_waiter(store: CountingStore) -> PositionWaiter:
    ends = FixedEndOffsets({(TOPIC, 0): 4})
    return PositionWaiter(store, ends, [TOPIC], ProgressSignal())  # type: ignore[arg-type]


async def test_a_waiting_read_is_answered_when_the_projection_signals_the_position() -> None:
    store = CountingStore()
    waiter = a_waiter(store)
    wait = asyncio.create_task(waiter.reached(8, timeout_seconds=5))
    # Idle for a while: a polling waiter would query the store every few milliseconds here.
    await asyncio.sleep(0.2)
    assert not wait.done()
    store.applied = PartitionProgress(
        TOPIC, 0, next_offset=4, last_position=8, last_occurred_at=None
    )
    waiter.signal.notify()
    assert await asyncio.wait_for(wait, 1)
    assert store.queries == 2


async def test_a_wait_without_progress_ends_after_one_look_at_the_store() -> None:
    store = CountingStore()
    waiter = a_waiter(store)
    assert not await waiter.reached(8, timeout_seconds=0.2)
    assert store.queries == 1


async def test_progress_that_does_not_reach_the_position_keeps_waiting() -> None:
    store = CountingStore()
    waiter = a_waiter(store)
    wait = asyncio.create_task(waiter.reached(9, timeout_seconds=5))
    await asyncio.sleep(0)
    waiter.signal.notify()
    await asyncio.sleep(0.05)
    assert not wait.done()
    store.applied = PartitionProgress(
        TOPIC, 0, next_offset=4, last_position=9, last_occurred_at=None
    )
    waiter.signal.notify()
    assert await asyncio.wait_for(wait, 1)
