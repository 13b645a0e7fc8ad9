"""Reading whole topics from offset 0 to their end without a consumer group.

For operator commands that replay a log (a read-model rebuild, listing dead letters):
they read what is there now and stop, and never move any consumer group's offsets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from service_kit.kafka.messages import BatchHandler, ConsumedMessage, PartitionBatch, decode_record
from service_kit.kafka_security import kafka_client_options
from service_kit.settings import KafkaSettings

logger = logging.getLogger(__name__)

BodyT = TypeVar("BodyT")

RecordsHandler = Callable[[TopicPartition, list[ConsumerRecord[Any, Any]]], Awaitable[None]]


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions, waiting briefly for metadata of a just-created topic."""
    for _ in range(50):
        await consumer.topics()
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, partition) for partition in sorted(partitions)]
        await asyncio.sleep(0.1)
    return []


async def read_until_end(
    consumer: AIOKafkaConsumer,
    partitions: Sequence[TopicPartition],
    handle: RecordsHandler,
    *,
    poll_timeout_ms: int = 500,
) -> None:
    """Hands the records of `partitions` to `handle`, per partition, up to their end offsets
    as of this call (from wherever the consumer stands)."""
    if not partitions:
        return
    # Some Kafka-protocol brokers (Tansu) under-report end offsets for multi-record
    # batches, so reading stops only when the end is reached *and* a poll comes back empty.
    ends = await consumer.end_offsets(list(partitions))
    while True:
        batches = await consumer.getmany(*partitions, timeout_ms=poll_timeout_ms)
        for tp, records in batches.items():
            if records:
                await handle(tp, records)
        if not batches and all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
            return


class TopicReplay(Generic[BodyT]):
    """Every partition of `topics` from offset 0, handed out as decoded partition batches.

    Use as `async with TopicReplay(...) as replay: await replay.read_to_end(handle)`;
    `read_to_end` may be called again to continue up to the (new) end.
    """

    def __init__(
        self,
        kafka: KafkaSettings | str,
        topics: Sequence[str],
        *,
        decode: Callable[[bytes], BodyT],
        max_batch: int = 500,
        poll_timeout_ms: int = 500,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            **kafka_client_options(kafka),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            fetch_max_wait_ms=100,
        )
        self._topics = tuple(topics)
        self._decode = decode
        self._poll_timeout_ms = poll_timeout_ms
        self._partitions: list[TopicPartition] = []
        self.skipped = 0

    async def __aenter__(self) -> Self:
        await self._consumer.start()
        try:
            self._partitions = [
                tp for topic in self._topics for tp in await partitions_of(self._consumer, topic)
            ]
            self._consumer.assign(self._partitions)
            if self._partitions:
                await self._consumer.seek_to_beginning(*self._partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def read_to_end(self, handle: BatchHandler[BodyT]) -> int:
        """Hands every message up to the topics' current end to `handle`; returns how many.

        A message that does not decode is skipped: the live subscriber has already sent
        it to the dead-letter topic, so a replay leaves it out the same way.
        """
        read = 0

        async def decoded(tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]) -> None:
            nonlocal read
            read += len(records)
            await handle(self._batch(tp, records))

        await read_until_end(
            self._consumer, self._partitions, decoded, poll_timeout_ms=self._poll_timeout_ms
        )
        return read

    def _batch(
        self, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]
    ) -> PartitionBatch[BodyT]:
        messages: list[ConsumedMessage[BodyT]] = []
        for record in records:
            try:
                messages.append(decode_record(record, self._decode))
            except Exception as error:
                self.skipped += 1
                logger.warning(
                    "replay: skipping %s[%d]@%d that does not decode: %r",
                    record.topic,
                    record.partition,
                    record.offset,
                    error,
                )
        return PartitionBatch(tp.topic, tp.partition, messages, records[-1].offset + 1)
