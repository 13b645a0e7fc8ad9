"""Knows whether every catalog message published so far has been applied.

Each replica reads the whole catalog topic without a consumer group (the kit's runtime
polls it) and records what it applied with its effects. "Caught up" means: for every
catalog partition, what the reader has handled (committed) reaches the end offset Kafka
reported after the question was asked.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from inventory.application.errors import CatalogNotCaughtUp
from service_kit.kafka.subscription import Subscription


class KafkaCatalogProgress:
    def __init__(self, *, timeout_seconds: float, check_seconds: float = 0.02) -> None:
        self._reader: Subscription[Any] | None = None
        self._timeout_seconds = timeout_seconds
        self._check_seconds = check_seconds

    def follow(self, reader: Subscription[Any]) -> None:
        """The catalog subscription whose progress answers the question."""
        self._reader = reader

    async def wait_until_caught_up(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_seconds
        ends = await self._end_offsets(deadline)
        while True:
            behind = self._partitions_behind(ends)
            if not behind:
                return
            if loop.time() >= deadline:
                raise CatalogNotCaughtUp(
                    f"the catalog reader did not reach the end within "
                    f"{self._timeout_seconds:g}s: {behind}"
                )
            await asyncio.sleep(self._check_seconds)

    async def _end_offsets(self, deadline: float) -> dict[TopicPartition, int]:
        """The end offsets of the reader's partitions, as Kafka reports them now."""
        loop = asyncio.get_running_loop()
        while True:
            reader = self._reader
            consumer = reader.consumer if reader is not None else None
            assigned = list(consumer.assignment()) if consumer is not None else []
            if consumer is not None and assigned:
                try:
                    async with asyncio.timeout(max(0.0, deadline - loop.time())):
                        return dict(await consumer.end_offsets(assigned))
                except (KafkaError, TimeoutError) as error:
                    raise CatalogNotCaughtUp(
                        f"the catalog's end offsets are unknown: {error!r}"
                    ) from error
            if loop.time() >= deadline:
                raise CatalogNotCaughtUp(
                    f"the catalog reader has no partitions within {self._timeout_seconds:g}s"
                )
            await asyncio.sleep(self._check_seconds)

    def _partitions_behind(self, ends: dict[TopicPartition, int]) -> dict[str, str]:
        """Each partition not yet handled up to its end, with how far it is."""
        handled = self._reader.handled_offsets() if self._reader is not None else {}
        return {
            f"{tp.topic}[{tp.partition}]": f"handled {handled.get(tp, 0)} of {end}"
            for tp, end in sorted(ends.items())
            if handled.get(tp, 0) < end
        }
