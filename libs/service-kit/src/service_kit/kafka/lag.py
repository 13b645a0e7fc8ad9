"""Consumer lag: how many messages each partition is behind (the `kafka_consumer_lag` gauge)
and, for readiness, how long the furthest-behind partition has had unhandled messages."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from service_kit.metrics import KAFKA_CONSUMER_LAG


class ConsumerLag:
    def __init__(self) -> None:
        self._started_at = time.monotonic()
        self._behind_since: dict[TopicPartition, float] = {}

    def observe(self, consumer: AIOKafkaConsumer, handled: Mapping[TopicPartition, int]) -> None:
        """After a fetch: compares what was handled with the high watermarks it brought."""
        now = time.monotonic()
        for tp, next_offset in handled.items():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            lag = max(0, highwater - next_offset)
            KAFKA_CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
            if lag == 0:
                self._behind_since.pop(tp, None)
            else:
                self._behind_since.setdefault(tp, now)

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
