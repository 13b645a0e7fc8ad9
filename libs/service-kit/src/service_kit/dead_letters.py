"""Dead letters: build them, publish them, list them and re-drive them.

A dead letter is the original message
(key, value, headers) plus `dlt_*` headers naming the error and where it came from
(`service_kit.messaging.dead_letter_headers`), plus the consumer group that gave up
on it, so that a re-drive only sends back what this consumer failed to process.

What was re-driven: all letters below the re-drive group's committed offsets (re-driven
oldest first), and each letter re-driven on its own, recorded by a marker record on the
dead-letter topic itself (`dlt_redriven`: partition@offset of the letter; no body). Markers
are never listed nor re-driven. (Not commit metadata: not every Kafka-protocol broker keeps
it.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from service_kit.errors import ConflictError, NotFoundError
from service_kit.kafka_security import kafka_client_options
from service_kit.messaging import dead_letter_headers, header_map
from service_kit.settings import KafkaSettings
from service_kit.topic_replay import partitions_of, read_until_end
from ticketing_contracts import headers as ce

DEAD_LETTER_CONSUMER_GROUP = ce.DEAD_LETTER_CONSUMER_GROUP
_DEAD_LETTER_HEADERS = frozenset(
    {
        ce.DEAD_LETTER_ERROR,
        ce.DEAD_LETTER_ORIGINAL_TOPIC,
        ce.DEAD_LETTER_ORIGINAL_PARTITION,
        ce.DEAD_LETTER_ORIGINAL_OFFSET,
        DEAD_LETTER_CONSUMER_GROUP,
    }
)
_DEAD_LETTER_ID_NAMESPACE = UUID("7d1f2a5c-9e0b-4c36-8f0e-1b5a3c2d4e6f")
REDRIVEN_MARKER = "dlt_redriven"


@dataclass(frozen=True)
class DeadLetter:
    message_id: UUID
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def build_dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]] | None,
    error: BaseException | str,
    consumer_group: str,
) -> DeadLetter:
    """The dead letter for a consumed message; its id is stable for that message."""
    return DeadLetter(
        message_id=uuid5(
            _DEAD_LETTER_ID_NAMESPACE, f"{consumer_group}:{topic}:{partition}:{offset}"
        ),
        key=key,
        value=value or b"",
        headers=[
            *dead_letter_headers(
                list(headers or []), error=error, topic=topic, partition=partition, offset=offset
            ),
            (DEAD_LETTER_CONSUMER_GROUP, consumer_group.encode()),
        ],
    )


@dataclass(frozen=True)
class DeadLetterEntry:
    partition: int
    offset: int
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    consumer_group: str | None
    error: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    # Set on a marker record: the `partition@offset` of the letter it says was re-driven.
    redriven_of: str | None = None

    @property
    def letter_id(self) -> str:
        """How operators name it: partition@offset on the dead-letter topic."""
        return f"{self.partition}@{self.offset}"

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(name, value) for name, value in self.headers if name not in _DEAD_LETTER_HEADERS]

    def describe(self) -> dict[str, Any]:
        return {
            "dead_letter": self.letter_id,
            "original": f"{self.original_topic}[{self.original_partition}]@{self.original_offset}",
            "consumer_group": self.consumer_group,
            "error": self.error,
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "value": self.value[:500].decode("utf-8", "replace"),
        }


def _entry(record: Any) -> DeadLetterEntry:
    headers = list(record.headers or [])
    meta = header_map(headers)
    return DeadLetterEntry(
        partition=record.partition,
        offset=record.offset,
        original_topic=meta.get(ce.DEAD_LETTER_ORIGINAL_TOPIC, ""),
        original_partition=_int_or_none(meta.get(ce.DEAD_LETTER_ORIGINAL_PARTITION)),
        original_offset=_int_or_none(meta.get(ce.DEAD_LETTER_ORIGINAL_OFFSET)),
        consumer_group=meta.get(DEAD_LETTER_CONSUMER_GROUP),
        error=meta.get(ce.DEAD_LETTER_ERROR, ""),
        key=record.key,
        value=record.value or b"",
        headers=headers,
        redriven_of=meta.get(REDRIVEN_MARKER),
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _read_until_end(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> list[DeadLetterEntry]:
    entries: list[DeadLetterEntry] = []

    async def collect(_: TopicPartition, records: list[Any]) -> None:
        entries.extend(_entry(record) for record in records)

    await read_until_end(consumer, partitions, collect)
    entries.sort(key=lambda entry: (entry.partition, entry.offset))
    return entries


async def _assigned_consumer(
    kafka: KafkaSettings | str, topic: str, group_id: str | None, partition: int | None = None
) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    consumer = AIOKafkaConsumer(
        **kafka_client_options(kafka),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = await partitions_of(kafka, [topic])
        if partition is not None:
            partitions = [tp for tp in partitions if tp.partition == partition]
        consumer.assign(partitions)
        if group_id is None:
            await consumer.seek_to_beginning(*partitions)
        else:
            for tp in partitions:
                committed = await consumer.committed(tp)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed)
    except BaseException:
        await consumer.stop()
        raise
    return consumer, partitions


async def list_dead_letters(
    kafka: KafkaSettings | str,
    dead_letter_topic: str,
    *,
    consumer_group: str | None = None,
    limit: int | None = None,
) -> list[DeadLetterEntry]:
    """Every dead letter on the topic (of one consumer group if given), oldest first."""
    consumer, partitions = await _assigned_consumer(kafka, dead_letter_topic, None)
    try:
        entries = await _read_until_end(consumer, partitions)
    finally:
        await consumer.stop()
    entries = [entry for entry in entries if entry.redriven_of is None]
    if consumer_group is not None:
        entries = [entry for entry in entries if entry.consumer_group == consumer_group]
    return entries if limit is None else entries[:limit]


SendToTopic = Callable[[str, bytes | None, bytes, list[tuple[str, bytes]]], Awaitable[None]]
"""Sends (topic, key, value, headers) and returns once the broker acknowledged it."""


async def redrive_dead_letters(
    kafka: KafkaSettings | str,
    dead_letter_topic: str,
    send: SendToTopic,
    *,
    consumer_group: str,
    redrive_group: str | None = None,
    limit: int | None = None,
) -> list[DeadLetterEntry]:
    """Sends `consumer_group`'s dead letters back to their original topics, once each.

    Progress is kept as committed offsets of `redrive_group` (by default
    `<consumer_group>.dead-letter-redrive`), so running it again only re-drives what
    arrived since.
    """
    redrive_group = redrive_group or default_redrive_group(consumer_group)
    marked = _marked(await _all_entries(kafka, dead_letter_topic), consumer_group)
    consumer, partitions = await _assigned_consumer(kafka, dead_letter_topic, redrive_group)
    redriven: list[DeadLetterEntry] = []
    try:
        entries = await _read_until_end(consumer, partitions)
        progress: dict[TopicPartition, int] = {}
        for entry in entries:
            ours = (
                entry.consumer_group == consumer_group
                and entry.original_topic
                and entry.redriven_of is None
                and entry.letter_id not in marked
            )
            if ours and limit is not None and len(redriven) >= limit:
                break
            if ours:
                await send(entry.original_topic, entry.key, entry.value, entry.original_headers())
                redriven.append(entry)
            progress[TopicPartition(dead_letter_topic, entry.partition)] = entry.offset + 1
        if progress:
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in progress.items()})
    finally:
        await consumer.stop()
    return redriven


async def redrive_dead_letter(
    kafka: KafkaSettings | str,
    dead_letter_topic: str,
    send: SendToTopic,
    *,
    consumer_group: str,
    partition: int,
    offset: int,
    redrive_group: str | None = None,
) -> DeadLetterEntry:
    """Sends one of `consumer_group`'s dead letters (the one at `partition`/`offset` of the
    dead-letter topic) back to its original topic, then records that with a marker on the
    dead-letter topic, so neither this nor a re-drive of all pending ones sends it again.

    Raises NotFoundError when there is no such dead letter of this consumer group, and
    AlreadyRedrivenError (409) when it was already re-driven.
    """
    redrive_group = redrive_group or default_redrive_group(consumer_group)
    letter_id = f"{partition}@{offset}"
    entries = await _all_entries(kafka, dead_letter_topic)
    entry = next((e for e in entries if e.letter_id == letter_id and e.redriven_of is None), None)
    if entry is None or entry.consumer_group != consumer_group or not entry.original_topic:
        raise NotFoundError(f"No dead letter {letter_id} of consumer group {consumer_group}")
    progress = await redrive_progress(kafka, dead_letter_topic, redrive_group)
    if offset < progress.get(partition, 0) or letter_id in _marked(entries, consumer_group):
        raise AlreadyRedrivenError(f"Dead letter {letter_id} was already re-driven")
    await send(entry.original_topic, entry.key, entry.value, entry.original_headers())
    await send(
        dead_letter_topic,
        None,
        b"",
        [
            (DEAD_LETTER_CONSUMER_GROUP, consumer_group.encode()),
            (REDRIVEN_MARKER, letter_id.encode()),
        ],
    )
    return entry


async def _all_entries(kafka: KafkaSettings | str, dead_letter_topic: str) -> list[DeadLetterEntry]:
    consumer, partitions = await _assigned_consumer(kafka, dead_letter_topic, None)
    try:
        return await _read_until_end(consumer, partitions)
    finally:
        await consumer.stop()


def _marked(entries: list[DeadLetterEntry], consumer_group: str) -> set[str]:
    """The letters of `consumer_group` re-driven one by one."""
    return {
        entry.redriven_of
        for entry in entries
        if entry.redriven_of is not None and entry.consumer_group == consumer_group
    }


def default_redrive_group(consumer_group: str) -> str:
    return f"{consumer_group}.dead-letter-redrive"


class AlreadyRedrivenError(ConflictError):
    error_type = "already_redriven"


async def redrive_progress(
    kafka: KafkaSettings | str, dead_letter_topic: str, redrive_group: str
) -> dict[int, int]:
    """Partition -> the first dead-letter offset not yet re-driven by `redrive_group`."""
    consumer = AIOKafkaConsumer(
        **kafka_client_options(kafka), group_id=redrive_group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        progress: dict[int, int] = {}
        for tp in await partitions_of(kafka, [dead_letter_topic]):
            committed = await consumer.committed(tp)
            progress[tp.partition] = committed if committed is not None else 0
        return progress
    finally:
        await consumer.stop()


async def dead_letters_with_state(
    kafka: KafkaSettings | str, dead_letter_topic: str, consumer_group: str
) -> list[tuple[DeadLetterEntry, bool]]:
    """`consumer_group`'s dead letters, oldest first, each with whether it was re-driven."""
    entries = await _all_entries(kafka, dead_letter_topic)
    marked = _marked(entries, consumer_group)
    progress = await redrive_progress(
        kafka, dead_letter_topic, default_redrive_group(consumer_group)
    )
    return [
        (entry, entry.offset < progress.get(entry.partition, 0) or entry.letter_id in marked)
        for entry in entries
        if entry.redriven_of is None and entry.consumer_group == consumer_group
    ]
