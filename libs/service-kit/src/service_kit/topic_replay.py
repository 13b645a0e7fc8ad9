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
from aiokafka.admin import AIOKafkaAdminClient

from service_kit.kafka.messages import BatchHandler, ConsumedMessage, PartitionBatch, decode_record
from service_kit.kafka_security import kafka_client_options
from service_kit.settings import KafkaSettings

logger = logging.getLogger(__name__)

BodyT = TypeVar("BodyT")

RecordsHandler = Callable[[TopicPartition, list[ConsumerRecord[Any, Any]]], Awaitable[None]]


async def partitions_of(kafka: KafkaSettings | str, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of `topics`, in order, waiting briefly for a just-created topic to be
    known (one that does not exist has none).

    Asked of the cluster: a consumer knows only the topics it was assigned or subscribed to.
    """
    admin = AIOKafkaAdminClient(**kafka_client_options(kafka))
    await admin.start()
    try:
        for _ in range(50):
            described = {
                topic["topic"]: sorted(partition["partition"] for partition in topic["partitions"])
                for topic in await admin.describe_topics(list(topics))
            }
            if all(described.get(topic) for topic in topics):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return [
        TopicPartition(topic, partition)
        for topic in dict.fromkeys(topics)
        for partition in described.get(topic, [])
    ]


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
    ends = await consumer.end_offsets(list(partitions))
    while not await _reached(consumer, ends):
        batches = await consumer.getmany(*partitions, timeout_ms=poll_timeout_ms)
        for tp, records in batches.items():
            if records:
                await handle(tp, records)


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether the consumer stands at or past every partition's end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


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
        self._kafka = kafka
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
            self._partitions = await partitions_of(self._kafka, self._topics)
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
