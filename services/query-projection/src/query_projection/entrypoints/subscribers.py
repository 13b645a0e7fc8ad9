"""The projection's Kafka subscriber: every public event, applied to the read models."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime

from aiokafka import TopicPartition

from query_projection.adapters.metrics import (
    APPLIED_OFFSET,
    APPLIED_POSITION,
    MESSAGES_APPLIED,
    PROJECTION_LAG,
)
from query_projection.application.apply_batch import ApplyBatch, BatchResult
from query_projection.application.messages import DecodedEvent, ProjectedBatch, decode_projected
from query_projection.application.ports import PositionMoved, ReadModelStore, ReadModelSwitched
from query_projection.application.waiting import ProgressSignal
from query_projection.settings import QueryProjectionSettings
from service_kit.kafka.positions import OffsetsMoved
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka.subscription import Subscription
from ticketing_contracts.envelope import EventEnvelope


def subscribe_projection(
    runtime: KafkaRuntime,
    settings: QueryProjectionSettings,
    read_models: Callable[[], tuple[ApplyBatch, ReadModelStore]],
    signal: ProgressSignal,
) -> Subscription[DecodedEvent]:
    """Registers `project_events` on the runtime; positions come from the active generation.

    `read_models` gives the use case and its store once the service has connected (the
    subscription is declared before, so the AsyncAPI document describes it)."""
    generation: int | None = None

    async def stored_offsets(
        partitions: Collection[TopicPartition],
    ) -> Mapping[TopicPartition, int]:
        nonlocal generation
        _, store = read_models()
        generation = await store.active_generation()
        progress = await store.progress({tp.topic for tp in partitions}, generation)
        wanted = set(partitions)
        stored = {TopicPartition(p.topic, p.partition): p.next_offset for p in progress}
        return {tp: offset for tp, offset in stored.items() if tp in wanted}

    @runtime.subscriber(
        *settings.projected_topics,
        group=settings.group_id(settings.consumer_group),
        decode=decode_projected,
        offsets=stored_offsets,
        message_type=EventEnvelope,
        description="Every catalog, booking and inventory event, applied to the read models",
    )
    async def project_events(batch: ProjectedBatch) -> None:
        nonlocal generation
        apply_batch, store = read_models()
        if generation is None:
            generation = await store.active_generation()
        try:
            result = await apply_batch(batch, generation=generation)
        except ReadModelSwitched as switched:
            # A rebuild switched generations: continue from the new one's offsets.
            generation = switched.active_generation
            raise OffsetsMoved(str(switched)) from switched
        except PositionMoved as moved:
            raise OffsetsMoved(str(moved)) from moved
        signal.notify()
        _observe(batch, result)

    return project_events


def _observe(batch: ProjectedBatch, result: BatchResult) -> None:
    partition = str(batch.partition)
    APPLIED_OFFSET.labels(topic=batch.topic, partition=partition).set(result.progress.next_offset)
    if result.progress.last_position is not None:
        APPLIED_POSITION.labels(topic=batch.topic, partition=partition).set(
            result.progress.last_position
        )
    if result.applied:
        MESSAGES_APPLIED.labels(topic=batch.topic).inc(result.applied)
    now = datetime.now(UTC)
    for occurred_at in result.occurred_at:
        PROJECTION_LAG.observe(max((now - occurred_at).total_seconds(), 0.0))
