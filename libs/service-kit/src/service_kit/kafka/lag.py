"""Consumer lag: how many messages each partition is behind (the `kafka_consumer_lag` gauge)
and, for readiness, how long the furthest-behind partition has had unhandled messages.

Each fetch brings the partitions' high watermarks; a subscriber that fetches nothing (stuck
in a batch, paused, its partitions blocked) would keep showing the lag of its last fetch,
so the end offsets are also asked of Kafka every `consumer_lag_check_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from service_kit.metrics import KAFKA_CONSUMER_LAG

logger = logging.getLogger(__name__)


class ConsumerLag:
    def __init__(self) -> None:
        self._started_at = time.monotonic()
        self._behind_since: dict[TopicPartition, float] = {}

    def observe(self, consumer: AIOKafkaConsumer, handled: Mapping[TopicPartition, int]) -> None:
        """After a fetch: compares what was handled with the high watermarks it brought."""
        for tp, next_offset in handled.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._record(tp, highwater, next_offset)

    async def check_end_offsets(
        self, consumer: AIOKafkaConsumer, handled: Callable[[], Mapping[TopicPartition, int]]
    ) -> None:
        """Compares the end offsets Kafka reports now with what is handled once they arrive
        (the subscriber may have gone on meanwhile)."""
        partitions = list(handled())
        if not partitions:
            return
        ends = await consumer.end_offsets(partitions)
        handled_now = handled()
        for tp, end in ends.items():
            if tp in handled_now:
                self._record(tp, end, handled_now[tp])

    async def check_every(
        self,
        seconds: float,
        consumer: Callable[[], AIOKafkaConsumer | None],
        handled: Callable[[], Mapping[TopicPartition, int]],
    ) -> None:
        """`check_end_offsets` every `seconds` until cancelled; a failed check is logged."""
        while True:
            await asyncio.sleep(seconds)
            current = consumer()
            if current is None:
                continue
            try:
                await self.check_end_offsets(current, handled)
            except Exception as error:  # the next check tries again; fetches still report lag
                logger.debug("checking end offsets for the lag failed: %r", error)

    def _record(self, tp: TopicPartition, end: int, next_offset: int) -> None:
        lag = max(0, end - next_offset)
        KAFKA_CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
        if lag == 0:
            self._behind_since.pop(tp, None)
        else:
            self._behind_since.setdefault(tp, time.monotonic())

    def seconds(self, *, ever_assigned: bool) -> float:
        """How long the furthest-behind partition has had unhandled messages; before any
        partition was assigned, how long the subscriber has been waiting for one."""
        now = time.monotonic()
        if not ever_assigned:
            return now - self._started_at
        return max((now - since for since in self._behind_since.values()), default=0.0)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._behind_since.pop(tp, None)
