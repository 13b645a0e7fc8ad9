"""One subscriber function on one or more topics: each fetched batch, split by partition,
is decoded message by message and handed on in order from where the partition stands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from service_kit.kafka.batch_subscriber import RunningSubscriber
from service_kit.kafka.failures import DeadLetterSender, FailurePolicy
from service_kit.kafka.lag import ConsumerLag
from service_kit.kafka.messages import (
    BatchHandler,
    ConsumedMessage,
    Decoder,
    PartitionBatch,
    Publish,
    decode_record,
)
from service_kit.kafka.offset_copies import OffsetCopies
from service_kit.kafka.positions import ConsumerPositions, OffsetsMoved, OffsetStore
from service_kit.kafka.retries import Backoff
from service_kit.kafka.spans import consumer_spans
from service_kit.metrics import KAFKA_CONSUMER_BATCH_SECONDS, KAFKA_CONSUMER_BATCH_SIZE
from service_kit.settings import KafkaSettings
from ticketing_contracts.events import ContractError, UndecodableMessage

logger = logging.getLogger(__name__)

BodyT = TypeVar("BodyT")


class Subscription(Generic[BodyT]):
    """One subscriber function with its positions, failure policy, lag and offset copies."""

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        group: str | None,
        decode: Decoder[BodyT],
        offsets: OffsetStore,
        handle: BatchHandler[BodyT],
        settings: KafkaSettings,
        is_transient: Callable[[BaseException], bool],
        publish: Publish,
        dead_letter_topic: str,
        dead_letter_group: str | None = None,
    ) -> None:
        self.name = name
        self.topics = tuple(topics)
        self.group = group
        # Dead letters name the group whose operator re-drives them (`dead-letters redrive`).
        self.dead_letter_group = dead_letter_group or group or name
        self.faststream_subscriber: RunningSubscriber | None = None
        self._decode = decode
        backoff = Backoff(settings, is_transient, subscriber=name)
        self.positions = ConsumerPositions(name, offsets, backoff, lambda: self.consumer)
        self.lag = ConsumerLag()
        self._lag_check_seconds = settings.consumer_lag_check_seconds
        self._lag_checks: asyncio.Task[None] | None = None
        self._offset_copies = OffsetCopies(
            name,
            interval_seconds=settings.consumer_offset_copy_seconds,
            consumer=lambda: self.consumer,
        )
        self._dead_letters = DeadLetterSender(
            subscriber=name,
            topic=dead_letter_topic,
            consumer_group=self.dead_letter_group,
            service=settings.service_name,
            publish=publish,
            backoff=backoff,
        )
        self._failures = FailurePolicy(
            subscriber=name,
            handle=handle,
            backoff=backoff,
            max_failures=settings.consumer_max_failures,
            dead_letters=self._dead_letters,
        )

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        """The real consumer once started (None under faststream's TestKafkaBroker).

        For inspection only (positions, high watermarks, end offsets): the runtime polls.
        """
        subscriber = self.faststream_subscriber
        consumer = subscriber.consumer if subscriber is not None else None
        return consumer if isinstance(consumer, AIOKafkaConsumer) else None

    @property
    def assigned(self) -> asyncio.Event:
        """Set once partitions were first positioned."""
        return self.positions.assigned

    @property
    def ever_assigned(self) -> bool:
        return self.positions.assigned.is_set()

    @property
    def beyond_log_end(self) -> set[TopicPartition]:
        """Partitions whose stored position is past the broker's log end."""
        return self.positions.beyond_log_end

    def handled_offsets(self) -> dict[TopicPartition, int]:
        """Next offset per partition that this subscriber has handled up to."""
        return self.positions.handled()

    def lag_seconds(self) -> float:
        """How long the furthest-behind assigned partition has had unhandled messages."""
        return self.lag.seconds(ever_assigned=self.ever_assigned)

    async def position(self, partitions: Collection[TopicPartition]) -> None:
        """Reads where `partitions` continue from the service's database."""
        await self.positions.read(partitions)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drops what is known of `partitions`: their positions are read again before their
        next batch."""
        partitions = list(partitions)
        self.positions.forget(partitions)
        self.lag.forget(partitions)
        self._offset_copies.forget(partitions)

    async def send_offset_copies_now(self) -> None:
        await self._offset_copies.send_now()

    def start_lag_checks(self) -> None:
        """Asks Kafka for the end offsets now and then, also while nothing is fetched."""
        self._lag_checks = asyncio.create_task(
            self.lag.check_every(
                self._lag_check_seconds, lambda: self.consumer, self.positions.handled
            )
        )

    async def stop_lag_checks(self) -> None:
        if self._lag_checks is not None:
            self._lag_checks.cancel()
            await asyncio.wait([self._lag_checks])
            self._lag_checks = None

    async def consume(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """One fetched batch (any number of partitions)."""
        by_partition: dict[TopicPartition, list[ConsumerRecord[Any, Any]]] = {}
        for record in records:
            by_partition.setdefault(TopicPartition(record.topic, record.partition), []).append(
                record
            )
        for tp, partition_records in by_partition.items():
            try:
                await self._consume_partition(tp, partition_records)
            except OffsetsMoved:
                logger.info("%s: stored offsets moved, reading them again", self.name)
                await self._reposition()
                return
        consumer = self.consumer
        if consumer is not None:
            self.lag.observe(consumer, self.positions.handled())

    async def _reposition(self) -> None:
        consumer = self.consumer
        handled = list(self.positions.handled())
        partitions = list(consumer.assignment()) if consumer is not None else handled
        self.forget(handled)
        await self.position(partitions)

    async def _consume_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]
    ) -> None:
        records = await self.positions.unhandled(tp, records)
        if not records:
            return
        started = time.perf_counter()
        decoded: list[ConsumedMessage[BodyT]] = []
        poison: list[tuple[ConsumerRecord[Any, Any], ContractError]] = []
        for record in records:
            try:
                decoded.append(decode_record(record, self._decode))
            except ContractError as violation:
                poison.append((record, violation))
            except Exception as error:  # a decoder that cannot cope: still the message's fault
                poison.append((record, UndecodableMessage(f"{type(error).__name__}: {error}")))
        for record, problem in poison:
            await self._dead_letters.send(record, problem)
        next_offset = records[-1].offset + 1
        raw = {record.offset: record for record in records}
        continues_from = self.positions.continues_from(tp)
        with consumer_spans(decoded) as traced:
            await self._failures.handle(
                PartitionBatch(tp.topic, tp.partition, traced, next_offset, continues_from), raw
            )
        self.positions.advance(tp, next_offset)
        KAFKA_CONSUMER_BATCH_SIZE.labels(subscriber=self.name).observe(len(records))
        KAFKA_CONSUMER_BATCH_SECONDS.labels(subscriber=self.name).observe(
            time.perf_counter() - started
        )
        if self.group is not None:
            self._offset_copies.queue(tp, next_offset)
