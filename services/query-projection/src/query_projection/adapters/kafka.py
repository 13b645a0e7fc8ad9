"""End offsets of whole topics (read-your-writes, /positions): the service's only Kafka
client besides the kit's runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition

from query_projection.domain.positions import TopicPartition as PartitionKey
from service_kit.kafka_security import kafka_client_options
from service_kit.settings import KafkaSettings
from service_kit.topic_replay import partitions_of


class KafkaEndOffsets:
    """End offsets (high watermarks) of whole topics, for read-your-writes and /positions."""

    def __init__(self, kafka: KafkaSettings | str) -> None:
        self._kafka = kafka
        self._consumer = AIOKafkaConsumer(
            **kafka_client_options(kafka), enable_auto_commit=False, request_timeout_ms=5000
        )
        self._partitions: dict[str, list[int]] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def _partitions_of(self, topic: str) -> list[int]:
        if topic not in self._partitions:
            async with self._lock:
                known = await partitions_of(self._kafka, [topic])
                if not known:
                    return []
                self._partitions[topic] = [tp.partition for tp in known]
        return self._partitions[topic]

    async def end_offsets(self, topics: Collection[str]) -> dict[PartitionKey, int]:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in await self._partitions_of(topic)
        ]
        if not partitions:
            return {}
        ends = await self._consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}
