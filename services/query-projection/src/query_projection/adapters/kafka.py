"""Kafka adapters: topics, the group consumer, end offsets and the dead-letter producer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from query_projection.application.messages import ConsumedMessage, DeadLetter
from query_projection.domain.positions import TopicPartition as PartitionKey
from service_kit.messaging import create_producer, dead_letter_headers
from service_kit.metrics import DEAD_LETTER_MESSAGES as DEAD_LETTERS
from service_kit.settings import KafkaSettings

logger = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


async def ensure_topics(bootstrap_servers: str, names: Iterable[str], partitions: int) -> None:
    """Create missing topics; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=1)
            for name in names
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for entry in getattr(response, "topic_errors", ()):
                name, code = entry[0], entry[1]
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise KafkaError(f"could not create topic {name}: error {code}")
    finally:
        await admin.close()


def _consumed(record: Any) -> ConsumedMessage:
    return ConsumedMessage(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )


AssignedCallback = Callable[[Collection[PartitionKey]], Awaitable[Mapping[PartitionKey, int]]]


class _SeekOnAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Start each assigned partition where the read models say, not where Kafka says."""

    def __init__(self, source: KafkaMessageSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._source.revoked({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._source.assigned({(tp.topic, tp.partition) for tp in assigned})


class KafkaMessageSource:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topics: Sequence[str],
        stored_offsets: AssignedCallback,
    ) -> None:
        self._consumer = consumer
        self._topics = tuple(topics)
        self._stored_offsets = stored_offsets
        self.assignment: set[PartitionKey] = set()
        self.ever_assigned = False

    @classmethod
    def for_group(
        cls,
        settings: KafkaSettings,
        topics: Sequence[str],
        group_id: str,
        stored_offsets: AssignedCallback,
        max_batch: int,
    ) -> KafkaMessageSource:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=group_id,
            client_id=settings.service_name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            fetch_max_wait_ms=100,
        )
        return cls(consumer, topics, stored_offsets)

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=_SeekOnAssignment(self))

    async def stop(self) -> None:
        await self._consumer.stop()

    def revoked(self, partitions: set[PartitionKey]) -> None:
        self.assignment -= partitions

    async def assigned(self, partitions: set[PartitionKey]) -> None:
        offsets = await self._stored_offsets(partitions)
        for topic, partition in partitions:
            self._consumer.seek(
                TopicPartition(topic, partition), offsets.get((topic, partition), 0)
            )
        self.assignment |= partitions
        self.ever_assigned = True
        logger.info("partitions assigned", extra={"partitions": sorted(partitions)})

    async def reseek(self, offsets: Mapping[PartitionKey, int]) -> None:
        for (topic, partition), offset in offsets.items():
            if (topic, partition) in self.assignment:
                self._consumer.seek(TopicPartition(topic, partition), offset)

    async def reseek_to_stored(self) -> None:
        """After a switch: continue every partition where the (new) read models stand."""
        stored = await self._stored_offsets(set(self.assignment))
        await self.reseek({key: stored.get(key, 0) for key in self.assignment})

    async def fetch(self, timeout_ms: int) -> list[ConsumedMessage]:
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        return [_consumed(record) for records in batches.values() for record in records]

    async def commit(self, offsets: Mapping[PartitionKey, int]) -> None:
        owned = {
            TopicPartition(topic, partition): offset
            for (topic, partition), offset in offsets.items()
            if (topic, partition) in self.assignment
        }
        if owned:
            await self._consumer.commit(owned)

    def highwater(self, key: PartitionKey) -> int | None:
        value = self._consumer.highwater(TopicPartition(*key))
        return int(value) if value is not None else None


class KafkaEndOffsets:
    """End offsets (high watermarks) of whole topics, for read-your-writes and /positions."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False, request_timeout_ms=5000
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
                await self._consumer.topics()  # refreshes metadata
                known = self._consumer.partitions_for_topic(topic)
                if not known:
                    return []
                self._partitions[topic] = sorted(known)
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


class KafkaDeadLetters:
    def __init__(self, settings: KafkaSettings, topic: str, consumer_group: str) -> None:
        self._producer = create_producer(settings)
        self._topic = topic
        self._consumer_group = consumer_group

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        sends = []
        for letter in letters:
            message = letter.message
            headers = dead_letter_headers(
                list(message.headers),
                error=f"{letter.reason}: {letter.error}",
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                consumer_group=self._consumer_group,
            )
            sends.append(
                await self._producer.send(
                    self._topic, message.value, key=message.key, headers=headers
                )
            )
            logger.warning(
                "message dead-lettered",
                extra={
                    "topic": message.topic,
                    "partition": message.partition,
                    "offset": message.offset,
                    "reason": letter.reason,
                    "error": letter.error[:500],
                },
            )
        await asyncio.gather(*sends)
        for letter in letters:
            DEAD_LETTERS.labels(topic=letter.message.topic, reason=letter.reason).inc()


class KafkaReplaySource:
    """Every partition of the topics from offset 0, without joining a consumer group."""

    def __init__(self, bootstrap_servers: str, topics: Sequence[str], *, max_batch: int) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            fetch_max_wait_ms=100,
        )
        self._topics = tuple(topics)
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.topics()
        self._partitions = [
            TopicPartition(topic, partition)
            for topic in self._topics
            for partition in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def fetch(self, timeout_ms: int) -> list[ConsumedMessage]:
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        return [_consumed(record) for records in batches.values() for record in records]

    async def end_offsets(self) -> dict[PartitionKey, int]:
        ends = await self._consumer.end_offsets(self._partitions)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}

    async def positions(self) -> dict[PartitionKey, int]:
        return {
            (tp.topic, tp.partition): int(await self._consumer.position(tp))
            for tp in self._partitions
        }
