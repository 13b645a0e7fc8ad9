"""Consumer positions: where each partition continues, as the service stored it with the
effects of the batches it handled.

A partition starts where the service's own database says (its `OffsetStore`), read again
whenever the group hands the partition out; Kafka's committed offsets are only a copy for
tooling (`offset_copies`). Every batch a subscriber sees continues exactly where the last
one ended: records handled before are dropped, and a fetch that starts elsewhere makes the
consumer seek back. A stored position past the partition's log end means the broker lost
messages; it is refused loudly rather than skipped to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from service_kit.kafka.retries import Backoff
from service_kit.metrics import KAFKA_POSITION_BEYOND_LOG_END

logger = logging.getLogger(__name__)

Records = list[ConsumerRecord[Any, Any]]

OffsetStore = Callable[[Collection[TopicPartition]], Awaitable[Mapping[TopicPartition, int]]]
"""Next offset to read per partition, from the service's database (missing: from the start)."""

LOG_END_SECONDS = 10.0


class OffsetsMoved(Exception):
    """Raised by a subscriber when its stored offsets changed under it (e.g. a read-model
    switch): the runtime reads them again and continues every partition from there."""


def each_offset_once(name: str, tp: TopicPartition, records: Records) -> Records:
    """The fetched records in offset order, each offset once.

    A fetch can hand over a record twice (seen after a seek on the former local broker):
    handled twice in one batch, the subscriber's own duplicate checks would reject the
    whole batch.
    """
    offsets = [record.offset for record in records]
    if offsets == sorted(set(offsets)):
        return records
    unique = {record.offset: record for record in reversed(records)}
    logger.warning(
        "%s: %s[%d] fetch held %d records for %d offsets; each is handled once, in order",
        name,
        tp.topic,
        tp.partition,
        len(records),
        len(unique),
    )
    return [unique[offset] for offset in sorted(unique)]


class ConsumerPositions:
    """One subscriber's next offset per partition, read from the service's database."""

    def __init__(
        self,
        name: str,
        stored: OffsetStore,
        backoff: Backoff,
        consumer: Callable[[], AIOKafkaConsumer | None],
    ) -> None:
        self._name = name
        self._stored = stored
        self._backoff = backoff
        self._consumer = consumer
        self._next: dict[TopicPartition, int] = {}
        self._sought: set[TopicPartition] = set()
        self.beyond_log_end: set[TopicPartition] = set()
        """Partitions whose stored position is past the broker's log end (logged once each)."""
        self.assigned = asyncio.Event()
        """Set once partitions were first positioned: until then nothing is handled."""

    def handled(self) -> dict[TopicPartition, int]:
        """Next offset per partition that the subscriber has handled up to."""
        return dict(self._next)

    def continues_from(self, tp: TopicPartition) -> int | None:
        """The position a batch of `tp` is read from now (None without a real consumer)."""
        return self._next.get(tp) if self._consumer() is not None else None

    def advance(self, tp: TopicPartition, next_offset: int) -> None:
        """The subscriber stored `next_offset` with the effects of a batch of `tp`."""
        self._next[tp] = next_offset

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._next.pop(tp, None)
            self._sought.discard(tp)

    async def read(self, partitions: Collection[TopicPartition]) -> None:
        """Positions `partitions` where the service's database says."""
        stored = await self._backoff.call(
            f"{self._name}:offsets", lambda: self._stored(list(partitions))
        )
        consumer = self._consumer()
        for tp in partitions:
            self._next[tp] = stored.get(tp, 0)
            if consumer is not None:
                consumer.seek(tp, self._next[tp])
                self._sought.add(tp)
        self.assigned.set()
        if partitions:
            logger.info(
                "%s: partitions positioned from the database",
                self._name,
                extra={"positions": {f"{tp.topic}[{tp.partition}]": o for tp, o in stored.items()}},
            )
        await self._check_log_ends([tp for tp in partitions if self._next.get(tp, 0) > 0])

    async def unhandled(self, tp: TopicPartition, records: Records) -> Records:
        """The fetched records of `tp` to hand to the subscriber: each offset once, none it
        handled before, and none at all when they do not continue where the partition stands
        (the consumer then seeks there, and the right ones come with the next fetch)."""
        records = each_offset_once(self._name, tp, records)
        consumer = self._consumer()
        if consumer is None:
            return records
        if tp not in self._next:
            await self.read([tp])
        return self._continuing(consumer, tp, records)

    def _continuing(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: Records
    ) -> Records:
        expected = self._next[tp]
        if records and records[0].offset < expected:
            highwater = consumer.highwater(tp)
            if highwater is not None and highwater < expected:
                self._refuse_beyond_log_end(tp, highwater)
        records = [record for record in records if record.offset >= expected]
        if not records or records[0].offset == expected:
            self._sought.discard(tp)
            return records
        if tp in self._sought:
            # Already sought there and the broker has nothing below: the log starts later.
            logger.warning(
                "%s: %s[%d] continues at %d, not %d (the broker no longer has the messages "
                "between)",
                self._name,
                tp.topic,
                tp.partition,
                records[0].offset,
                expected,
            )
            self._sought.discard(tp)
            return records
        consumer.seek(tp, expected)
        self._sought.add(tp)
        return []

    async def _check_log_ends(self, partitions: Collection[TopicPartition]) -> None:
        """An empty new topic sends nothing: only its log end shows the position is gone."""
        consumer = self._consumer()
        if consumer is None or not partitions:
            return
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(list(partitions)), LOG_END_SECONDS)
        except (KafkaError, OSError, TimeoutError) as error:
            logger.debug("%s: reading log end offsets failed: %r", self._name, error)
            return
        for tp, end in ends.items():
            if tp in self._next and end < self._next[tp]:
                self._refuse_beyond_log_end(tp, end)

    def _refuse_beyond_log_end(self, tp: TopicPartition, log_end: int) -> None:
        if tp in self.beyond_log_end:
            return
        self.beyond_log_end.add(tp)
        KAFKA_POSITION_BEYOND_LOG_END.labels(
            subscriber=self._name, topic=tp.topic, partition=str(tp.partition)
        ).inc()
        logger.error(
            "%s: %s[%d] ends at offset %d but the stored position is %d: the broker lost "
            "this partition's messages; refusing to skip what it will receive below %d. "
            "Restart the service so it recovers from the broker change "
            "(runbook: lost-kafka-cluster)",
            self._name,
            tp.topic,
            tp.partition,
            log_end,
            self._next[tp],
            self._next[tp],
        )


class PositionsOnAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Reads the stored positions of every partition the group hands out, and forgets
    those it takes away."""

    def __init__(
        self,
        *,
        before: Callable[[], Awaitable[None]],
        read: Callable[[Collection[TopicPartition]], Awaitable[None]],
        forget: Callable[[Collection[TopicPartition]], None],
    ) -> None:
        self._before = before
        self._read = read
        self._forget = forget

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        self._forget(revoked)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        # A rebuilt broker always hands partitions out anew: recover before reading from it.
        await self._before()
        await self._read(assigned)
