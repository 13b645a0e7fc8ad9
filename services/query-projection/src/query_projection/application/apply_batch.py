"""Apply a fetched batch of messages to the read models, exactly once per offset."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from query_projection.application.messages import ConsumedMessage, DeadLetter
from query_projection.application.ports import DeadLetterSink, HotReadModels, ReadModelStore
from query_projection.domain.positions import PartitionProgress, TopicPartition
from query_projection.domain.projection import rows_touched_by
from query_projection.domain.versions import UnversionedEvent
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import (
    ContractViolation,
    PublicEvent,
    UndecodableMessage,
    UnknownEventType,
    decode_message,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    generation: int
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    last_positions: dict[TopicPartition, int | None] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    occurred_at: tuple[datetime, ...] = ()


def _dead_letter(message: ConsumedMessage, error: Exception) -> DeadLetter:
    reason = {
        UndecodableMessage: "undecodable",
        UnknownEventType: "unknown_event_type",
        ContractViolation: "contract_violation",
        UnversionedEvent: "missing_aggregate_version",
    }.get(type(error), "unprocessable")
    return DeadLetter(message=message, reason=reason, error=f"{type(error).__name__}: {error}")


def _decode(message: ConsumedMessage) -> tuple[EventEnvelope, PublicEvent]:
    if message.value is None:
        raise UndecodableMessage("message has no value")
    return decode_message(message.value)


class ApplyBatch:
    """One PostgreSQL transaction per batch: rows, Redis, then the processed offsets.

    Redis is written before the commit: its updates are version-guarded, so if the
    commit fails the redelivered batch writes the same values again.
    """

    def __init__(
        self, store: ReadModelStore, hot: HotReadModels, dead_letters: DeadLetterSink
    ) -> None:
        self._store = store
        self._hot = hot
        self._dead_letters = dead_letters

    async def __call__(
        self, messages: Sequence[ConsumedMessage], *, generation: int, must_be_active: bool = True
    ) -> BatchResult:
        partitions = {message.topic_partition for message in messages}
        async with self._store.transaction(generation, must_be_active=must_be_active) as tx:
            progress = await tx.lock_progress(partitions)
            fresh = [
                m
                for m in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset))
                if m.offset >= _next_offset(progress, m.topic_partition)
            ]
            decoded: list[tuple[ConsumedMessage, EventEnvelope, PublicEvent]] = []
            letters: list[DeadLetter] = []
            for message in fresh:
                try:
                    envelope, event = _decode(message)
                except (UndecodableMessage, UnknownEventType, ContractViolation) as error:
                    letters.append(_dead_letter(message, error))
                else:
                    decoded.append((message, envelope, event))

            batch = await tx.load(rows_touched_by(event for _, _, event in decoded))
            applied: list[tuple[ConsumedMessage, EventEnvelope]] = []
            for message, envelope, event in decoded:
                try:
                    batch.apply(envelope, event)
                except UnversionedEvent as error:
                    letters.append(_dead_letter(message, error))
                else:
                    applied.append((message, envelope))

            if letters:
                await self._dead_letters.send(letters)
            await tx.save(batch)
            revisions = await tx.show_revisions(batch.touched_shows, batch.touched_venues)
            await self._hot.apply(tx.generation, batch, revisions)
            advanced = _advance(progress, fresh, applied)
            await tx.record_progress(advanced.values())

        return BatchResult(
            generation=generation,
            next_offsets={key: p.next_offset for key, p in advanced.items()},
            last_positions={key: p.last_position for key, p in advanced.items()},
            applied=len(applied),
            duplicates=len(messages) - len(fresh),
            dead_letters=len(letters),
            occurred_at=tuple(envelope.occurred_at for _, envelope in applied),
        )


def _next_offset(progress: dict[TopicPartition, PartitionProgress], key: TopicPartition) -> int:
    known = progress.get(key)
    return known.next_offset if known else 0


def _advance(
    progress: dict[TopicPartition, PartitionProgress],
    fresh: Sequence[ConsumedMessage],
    applied: Sequence[tuple[ConsumedMessage, EventEnvelope]],
) -> dict[TopicPartition, PartitionProgress]:
    advanced: dict[TopicPartition, PartitionProgress] = {}
    for message in fresh:
        key = message.topic_partition
        current = advanced.get(key) or progress.get(key)
        advanced[key] = PartitionProgress(
            topic=message.topic,
            partition=message.partition,
            next_offset=message.offset + 1,
            last_position=current.last_position if current else None,
            last_occurred_at=current.last_occurred_at if current else None,
        )
    for message, envelope in applied:
        key = message.topic_partition
        current = advanced[key]
        position = current.last_position
        if envelope.position is not None:
            position = envelope.position if position is None else max(position, envelope.position)
        occurred = current.last_occurred_at
        if occurred is None or envelope.occurred_at > occurred:
            occurred = envelope.occurred_at
        advanced[key] = PartitionProgress(
            topic=current.topic,
            partition=current.partition,
            next_offset=current.next_offset,
            last_position=position,
            last_occurred_at=occurred,
        )
    return advanced
