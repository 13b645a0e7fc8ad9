"""Knows whether every catalog message published so far has been applied.

Each replica reads the whole catalog topic without a consumer group and records what it
applied in `processed_messages`, like any other message. "Caught up" means both:

1. this replica's catalog reader began a poll after the question was asked and found
   nothing new (it handles batches before polling again, so all it had is applied), and
2. for every catalog partition, the database has processed everything below the end
   offset the broker reports now (any replica's reader may have done that work).

(1) alone covers brokers that under-report end offsets (Tansu, for batches of several
records); (2) alone would trust end offsets. Together they hold on both.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from inventory.adapters.postgres_repository import InventoryQueries
from inventory.application.errors import CatalogNotCaughtUp


class KafkaCatalogProgress:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        queries: InventoryQueries,
        *,
        timeout_seconds: float,
        poll_seconds: float = 0.05,
    ) -> None:
        self._consumer = consumer
        self._last_empty_poll_started = float("-inf")
        self.track_reader = True
        self._topic = topic
        self._queries = queries
        self._timeout_seconds = timeout_seconds
        self._poll_seconds = poll_seconds

    def observe_empty_poll(self, started_at: float) -> None:
        """Called by the catalog reader with the start time of a poll that found nothing."""
        self._last_empty_poll_started = max(self._last_empty_poll_started, started_at)

    async def wait_until_caught_up(self) -> None:
        loop = asyncio.get_running_loop()
        asked_at = loop.time()
        deadline = asked_at + self._timeout_seconds
        while self.track_reader and self._last_empty_poll_started < asked_at:
            if loop.time() >= deadline:
                raise CatalogNotCaughtUp(
                    f"the catalog reader found no end within {self._timeout_seconds:g}s"
                )
            await asyncio.sleep(self._poll_seconds / 2)
        partitions = [
            TopicPartition(self._topic, partition)
            for partition in sorted(self._consumer.partitions_for_topic(self._topic) or ())
        ]
        if not partitions:
            return
        ends = await self._consumer.end_offsets(partitions)
        beginnings = await self._consumer.beginning_offsets(partitions)
        while True:
            applied = await self._queries.next_offsets(self._topic)
            behind = {
                tp.partition: ends[tp] - applied.get(tp.partition, beginnings[tp])
                for tp in partitions
                if applied.get(tp.partition, beginnings[tp]) < ends[tp]
            }
            if not behind:
                return
            if loop.time() >= deadline:
                raise CatalogNotCaughtUp(
                    f"catalog still behind after {self._timeout_seconds:g}s: {behind}"
                )
            await asyncio.sleep(self._poll_seconds)
