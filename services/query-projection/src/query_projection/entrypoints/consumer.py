"""Runs the projection: fetch a batch, apply it in one transaction, commit, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from query_projection.adapters.kafka import KafkaMessageSource
from query_projection.adapters.metrics import (
    APPLIED_OFFSET,
    APPLIED_POSITION,
    BATCH_DURATION,
    BATCH_FAILURES,
    MESSAGES_APPLIED,
    PROJECTION_LAG,
)
from query_projection.application.apply_batch import ApplyBatch, BatchResult
from query_projection.application.messages import ConsumedMessage
from query_projection.application.ports import ReadModelStore, ReadModelSwitched
from query_projection.application.waiting import ProgressSignal
from query_projection.domain.positions import TopicPartition
from service_kit.metrics import KAFKA_CONSUMER_LAG as CONSUMER_LAG

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0


class ProjectionConsumer:
    def __init__(
        self,
        apply_batch: ApplyBatch,
        store: ReadModelStore,
        signal: ProgressSignal,
        topics: Collection[str],
        *,
        fetch_timeout_ms: int = 200,
    ) -> None:
        self._apply = apply_batch
        self._store = store
        self._signal = signal
        self._topics = tuple(topics)
        self._fetch_timeout_ms = fetch_timeout_ms
        self.source: KafkaMessageSource | None = None
        self.generation: int | None = None
        self.started_at = time.monotonic()
        self._applied: dict[TopicPartition, int] = {}
        self._behind_since: dict[TopicPartition, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def stored_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        self.generation = await self._store.active_generation()
        progress = await self._store.progress({topic for topic, _ in partitions}, self.generation)
        offsets = {p.key: p.next_offset for p in progress if p.key in partitions}
        for key in partitions:
            self._applied[key] = offsets.get(key, 0)
        return offsets

    def start(self, source: KafkaMessageSource) -> None:
        self.source = source
        self._task = asyncio.create_task(self._run(), name="projection-consumer")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        assert self.source is not None
        source = self.source
        self.generation = await self._store.active_generation()
        backoff = 0.1
        while not self._stopping:
            try:
                messages = await source.fetch(self._fetch_timeout_ms)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fetching from Kafka failed")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if messages:
                try:
                    await self.apply(messages)
                except asyncio.CancelledError:
                    raise
                except ReadModelSwitched as switched:
                    logger.info(
                        "read models switched", extra={"generation": switched.active_generation}
                    )
                    await source.reseek_to_stored()
                    continue
                except Exception:
                    BATCH_FAILURES.inc()
                    logger.exception("batch failed; it will be fetched again")
                    await source.reseek(_first_offsets(messages))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                backoff = 0.1
            self._observe_lag()

    async def apply(self, messages: list[ConsumedMessage]) -> BatchResult:
        assert self.source is not None
        assert self.generation is not None
        started = time.perf_counter()
        try:
            result = await self._apply(messages, generation=self.generation)
        except ReadModelSwitched as switched:
            self.generation = switched.active_generation
            raise
        BATCH_DURATION.observe(time.perf_counter() - started)
        self._applied.update(result.next_offsets)
        self._signal.notify()
        try:
            await self.source.commit(result.next_offsets)
        except Exception:  # the database holds the offsets; Kafka's copy is for tooling
            logger.warning("committing offsets to Kafka failed", exc_info=True)
        now = datetime.now(UTC)
        for occurred_at in result.occurred_at:
            PROJECTION_LAG.observe(max((now - occurred_at).total_seconds(), 0.0))
        for topic in {m.topic for m in messages}:
            MESSAGES_APPLIED.labels(topic=topic).inc(sum(1 for m in messages if m.topic == topic))
        for (topic, partition), offset in result.next_offsets.items():
            APPLIED_OFFSET.labels(topic=topic, partition=str(partition)).set(offset)
        for (topic, partition), position in result.last_positions.items():
            if position is not None:
                APPLIED_POSITION.labels(topic=topic, partition=str(partition)).set(position)
        return result

    def _observe_lag(self) -> None:
        assert self.source is not None
        now = time.monotonic()
        for key in list(self._behind_since):
            if key not in self.source.assignment:
                del self._behind_since[key]
        for key in self.source.assignment:
            applied = self._applied.get(key, 0)
            highwater = self.source.highwater(key)
            if highwater is None:
                continue
            lag = max(highwater - applied, 0)
            CONSUMER_LAG.labels(topic=key[0], partition=str(key[1])).set(lag)
            if lag == 0:
                self._behind_since.pop(key, None)
            else:
                self._behind_since.setdefault(key, now)

    def has_joined(self) -> bool:
        """True once the group has assigned this consumer its partitions (maybe none)."""
        return self.source is not None and self.source.ever_assigned

    def lag_seconds(self) -> float:
        """How long the furthest-behind assigned partition has had unapplied messages."""
        now = time.monotonic()
        if self.source is None or not self.source.ever_assigned:
            return now - self.started_at
        return max((now - since for since in self._behind_since.values()), default=0.0)


def _first_offsets(messages: list[ConsumedMessage]) -> dict[TopicPartition, int]:
    first: dict[TopicPartition, int] = {}
    for message in messages:
        key = message.topic_partition
        first[key] = min(first.get(key, message.offset), message.offset)
    return first
