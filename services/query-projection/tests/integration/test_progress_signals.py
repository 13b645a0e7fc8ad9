"""Waiters are woken by any replica's committed batch (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import time

import pytest

from query_projection.adapters.postgres_progress import PostgresProgressListener
from query_projection.application.waiting import PositionWaiter, ProgressSignal

pytestmark = pytest.mark.integration


async def test_a_waiter_is_woken_by_a_batch_another_replica_commits(harness, scenario) -> None:
    signal = ProgressSignal()  # this replica applies nothing itself
    listener = PostgresProgressListener(harness.settings.database_dsn, signal.notify)
    await listener.start()
    try:
        waiter = PositionWaiter(
            harness.store, harness.end_offsets, harness.settings.position_topics, signal
        )
        venue = scenario.venue_created()
        messages = harness.log.messages([venue])
        wait = asyncio.create_task(waiter.reached(venue.position, timeout_seconds=10))
        started = time.monotonic()
        await harness.deliver(messages)
        assert await wait
        assert time.monotonic() - started < 5
    finally:
        await listener.stop()
