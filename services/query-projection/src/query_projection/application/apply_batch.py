"""Apply one partition's batch of events to the read models, exactly once per offset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from query_projection.application.messages import ProjectedBatch, ProjectedMessage
from query_projection.application.ports import HotReadModels, PositionMoved, ReadModelStore
from query_projection.domain.positions import PartitionProgress
from query_projection.domain.projection import rows_touched_by
from query_projection.domain.set_aside import SetAsideFacts


@dataclass(frozen=True)
class BatchResult:
    generation: int
    progress: PartitionProgress
    applied: int
    duplicates: int
    occurred_at: tuple[datetime, ...] = ()


class ApplyBatch:
    """One PostgreSQL transaction per batch: rows, Redis, then the partition's next offset.

    Redis is written before the commit: its updates are version-guarded, so if the
    commit fails the redelivered batch writes the same values again. Facts the event store
    no longer holds (`set_aside`, after a restore of it) are skipped like duplicates.
    """

    def __init__(
        self, store: ReadModelStore, hot: HotReadModels, set_aside: SetAsideFacts | None = None
    ) -> None:
        self._store = store
        self._hot = hot
        self._set_aside = set_aside if set_aside is not None else SetAsideFacts()

    async def __call__(
        self, batch: ProjectedBatch, *, generation: int, must_be_active: bool = True
    ) -> BatchResult:
        key = (batch.topic, batch.partition)
        async with self._store.transaction(generation, must_be_active=must_be_active) as tx:
            stored = (await tx.lock_progress({key})).get(key)
            start = stored.next_offset if stored else 0
            if not batch.continues(start):
                raise PositionMoved(
                    f"{batch.topic}[{batch.partition}] is stored at {start}, "
                    f"not {batch.continues_from} where this batch was read from"
                )
            fresh = [message for message in batch.messages if message.offset >= start]
            kept = [message for message in fresh if not self._set_aside.leaves_out(*message.body)]
            rows = await tx.load(rows_touched_by(message.body[1] for message in kept))
            for message in kept:
                rows.apply(*message.body)
            await tx.save(rows)
            revisions = await tx.show_revisions(rows.touched_shows, rows.touched_venues)
            await self._hot.apply(tx.generation, rows, revisions)
            progress = _advance(stored, batch, fresh, next_offset=max(start, batch.next_offset))
            await tx.record_progress([progress])

        return BatchResult(
            generation=generation,
            progress=progress,
            applied=len(kept),
            duplicates=len(batch.messages) - len(kept),
            occurred_at=tuple(message.body[0].occurred_at for message in kept),
        )


def _advance(
    stored: PartitionProgress | None,
    batch: ProjectedBatch,
    fresh: Sequence[ProjectedMessage],
    *,
    next_offset: int,
) -> PartitionProgress:
    position = stored.last_position if stored else None
    occurred = stored.last_occurred_at if stored else None
    for message in fresh:
        envelope = message.body[0]
        if envelope.position is not None:
            position = envelope.position if position is None else max(position, envelope.position)
        if occurred is None or envelope.occurred_at > occurred:
            occurred = envelope.occurred_at
    return PartitionProgress(
        topic=batch.topic,
        partition=batch.partition,
        next_offset=next_offset,
        last_position=position,
        last_occurred_at=occurred,
    )
