"""What a subscriber receives (consumed messages in partition batches) and what a service
publishes (outbound messages)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord, TopicPartition

from service_kit.messaging import header_map, message_context
from ticketing_contracts import headers as ce
from ticketing_contracts.events import UndecodableMessage

BodyT = TypeVar("BodyT")

KafkaHeaders = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class ConsumedMessage(Generic[BodyT]):
    """One message as a subscriber sees it: where it came from and its decoded body."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: Mapping[str, str]
    body: BodyT
    trace_headers: KafkaHeaders = ()
    """`traceparent` of this message's processing span: copy it onto what the message causes."""

    @property
    def correlation_id(self) -> str | None:
        return self.headers.get(ce.CORRELATION_ID)

    def logging_context(self) -> AbstractContextManager[str]:
        """Makes this message's correlation id current for logs and the events it causes."""
        return message_context(self.headers)


@dataclass(frozen=True)
class PartitionBatch(Generic[BodyT]):
    """Consecutive messages of one partition; store `next_offset` with their effects.

    `messages` may be empty (everything in the range went to the dead-letter topic): the
    subscriber still records `next_offset`, so the partition moves on.

    `continues_from` is the stored position the runtime read this batch from. A subscriber
    that finds another position stored (a broker recovery reset it, another replica moved
    it) raises `positions.OffsetsMoved` instead of storing, so a batch read at stale
    positions never records them. None where the runtime keeps no positions (replays, the
    test broker).
    """

    topic: str
    partition: int
    messages: Sequence[ConsumedMessage[BodyT]]
    next_offset: int
    continues_from: int | None = None

    def continues(self, stored: int | None) -> bool:
        """Whether this batch follows the position stored now (None: nothing stored yet)."""
        return self.continues_from is None or self.continues_from == (stored or 0)

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


Decoder = Callable[[bytes], BodyT]
BatchHandler = Callable[[PartitionBatch[BodyT]], Awaitable[None]]


def decode_record(
    record: ConsumerRecord[Any, Any], decode: Decoder[BodyT]
) -> ConsumedMessage[BodyT]:
    """The record as a subscriber sees it; raises a ContractError (or whatever `decode` raises)
    for a message that can never be processed."""
    if not record.value:
        raise UndecodableMessage("empty message")
    return ConsumedMessage(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        header_map(record.headers),
        decode(record.value),
    )


@dataclass(frozen=True)
class OutboundMessage:
    topic: str
    key: bytes | None
    value: bytes
    headers: KafkaHeaders


Publish = Callable[[Sequence[OutboundMessage]], Awaitable[None]]
"""Sends in order and returns once the broker acknowledged every message."""
