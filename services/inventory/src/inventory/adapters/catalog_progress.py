"""Knows whether every catalog message published so far has been applied.

Each replica reads the whole catalog topic without a consumer group (the kit's runtime
polls it) and records what it applied with its effects. "Caught up" means: for every
catalog partition, the reader received a fetch response that the broker began after the
question was asked, and that response's high watermark (the offset the next message
will get) is no further than what the reader has handled, i.e. committed.

End offsets from a ListOffsets request would be simpler but Tansu under-reports them for
writes of several records; the high watermark in its fetch responses is right. A fetch
response the broker could have begun before the question is not trusted, so the
response must arrive at least one fetch wait after it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from inventory.application.errors import CatalogNotCaughtUp
from service_kit.kafka.subscription import Subscription


class KafkaCatalogProgress:
    def __init__(
        self,
        *,
        timeout_seconds: float,
        fetch_wait_ms: int,
        check_seconds: float = 0.02,
    ) -> None:
        self._reader: Subscription[Any] | None = None
        self._timeout_seconds = timeout_seconds
        self._fetch_wait_ms = fetch_wait_ms
        self._check_seconds = check_seconds

    def follow(self, reader: Subscription[Any]) -> None:
        """The catalog subscription whose progress answers the question."""
        self._reader = reader

    async def wait_until_caught_up(self) -> None:
        asked_ms = time.time() * 1000
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_seconds
        while True:
            behind = self._partitions_behind(asked_ms)
            if not behind:
                return
            if loop.time() >= deadline:
                raise CatalogNotCaughtUp(
                    f"the catalog reader did not reach the end within "
                    f"{self._timeout_seconds:g}s: {behind}"
                )
            await asyncio.sleep(self._check_seconds)

    def _partitions_behind(self, asked_ms: float) -> dict[str, str]:
        """Each partition not yet known to be read to its end, with the reason."""
        reader = self._reader
        consumer = reader.consumer if reader is not None else None
        if reader is None or consumer is None:
            return {"*": "the catalog reader is not running"}
        assigned = sorted(consumer.assignment())
        if not assigned:
            return {"*": "no catalog partitions assigned yet"}
        handled = reader.handled_offsets()
        behind = {}
        for tp in assigned:
            reason = self._behind(consumer, tp, handled.get(tp, 0), asked_ms)
            if reason is not None:
                behind[f"{tp.topic}[{tp.partition}]"] = reason
        return behind

    def _behind(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, handled: int, asked_ms: float
    ) -> str | None:
        fetched_ms = consumer.last_poll_timestamp(tp)
        if fetched_ms is None or fetched_ms < asked_ms + self._fetch_wait_ms:
            return "no fetch response since the question"
        highwater = consumer.highwater(tp)
        if highwater is not None and highwater > handled:
            return f"handled {handled} of {highwater}"
        return None
