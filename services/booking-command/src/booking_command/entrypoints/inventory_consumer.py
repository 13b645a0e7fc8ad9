"""Consumes inventory outcomes and drives the booking saga.

Each fetched batch of a partition is applied in one event-store transaction that
also records the partition's offset; on (re)assignment the consumer seeks to the
offset after the recorded one, so a redelivered message is never applied twice.
Messages that cannot be decoded go to the dead-letter topic and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from eventsourcing.persistence import IntegrityError

from booking_command.application.app import BookingCommandApplication, InventoryOutcome
from booking_command.application.executor import EventStoreExecutor
from booking_command.domain.booking import RejectionReason
from booking_command.settings import BookingCommandSettings
from service_kit.messaging import create_producer, dead_letter_headers, header_map
from service_kit.metrics import DEAD_LETTER_MESSAGES, KAFKA_CONSUMER_LAG
from service_kit.request_context import new_id
from ticketing_contracts import headers as ce
from ticketing_contracts import topics
from ticketing_contracts.events import (
    ContractError,
    ReservationRejected,
    TicketsReserved,
    decode_message,
)

logger = logging.getLogger(__name__)

SAGA_CONFLICT_RETRIES = 5


def stream_name(partition: TopicPartition) -> str:
    return f"inventory:{partition.topic}:{partition.partition}"


def to_outcome(record: ConsumerRecord[bytes, bytes]) -> InventoryOutcome:
    """Decodes one message; raises ContractError when it can never be processed."""
    if record.value is None:
        raise ContractError("empty message")
    envelope, event = decode_message(record.value)
    booking_id = getattr(event, "booking_id", None)
    if isinstance(event, TicketsReserved):
        kind, reason = "reserved", None
    elif isinstance(event, ReservationRejected):
        kind, reason = "rejected", RejectionReason(event.reason.value)
    else:
        kind, reason = "other", None
    return InventoryOutcome(
        offset=record.offset,
        kind=kind,
        booking_id=booking_id,
        correlation_id=envelope.correlation_id,
        reason=reason,
    )


class _SeekToTracked(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: InventoryOutcomeConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._consumer.seek_to_tracked(list(assigned))


class InventoryOutcomeConsumer:
    def __init__(
        self,
        app: BookingCommandApplication,
        executor: EventStoreExecutor,
        settings: BookingCommandSettings,
        *,
        prepare: Callable[[], Any] | None = None,
    ) -> None:
        self.app = app
        self.executor = executor
        self.settings = settings
        self.topic = settings.topic(topics.INVENTORY_EVENTS)
        self.dead_letter_topic = settings.topic(topics.DEAD_LETTERS)
        self._prepare = prepare
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: Any = None
        self._task: asyncio.Task[None] | None = None
        self.assigned = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="inventory-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def probe(self) -> None:
        if not self.alive:
            raise RuntimeError("the inventory consumer is not running")

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                if self._prepare is not None:
                    await self._prepare()
                    self._prepare = None
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("inventory consumer failed, restarting in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.relay_retry_max_seconds)
            finally:
                await self._close()

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.group_id(self.settings.consumer_group),
            client_id=self.settings.service_name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._consumer = consumer
        consumer.subscribe([self.topic], listener=_SeekToTracked(self))
        await consumer.start()
        while True:
            batches = await consumer.getmany(
                timeout_ms=500, max_records=self.settings.consumer_max_records
            )
            for partition, records in batches.items():
                if records:
                    await self.handle(partition, records)
                    # Offsets in Kafka only show lag; the event store's tracking is the truth.
                    with contextlib.suppress(Exception):
                        await consumer.commit({partition: records[-1].offset + 1})
            await self._observe_lag(consumer)

    async def handle(
        self, partition: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        outcomes: list[InventoryOutcome] = []
        for record in records:
            try:
                outcomes.append(to_outcome(record))
            except ContractError as error:
                await self._dead_letter(record, error)
                outcomes.append(InventoryOutcome(record.offset, "other", None, new_id()))
        for attempt in range(1, SAGA_CONFLICT_RETRIES + 1):
            try:
                report = await self.executor.run(
                    self.app.apply_inventory_outcomes, stream_name(partition), outcomes
                )
                break
            except IntegrityError:
                # A booking changed concurrently (cancel, expiry): reload and apply again.
                if attempt == SAGA_CONFLICT_RETRIES:
                    raise
        if report.applied or report.duplicates:
            logger.info(
                "inventory outcomes applied",
                extra={
                    "partition": partition.partition,
                    "applied": report.applied,
                    "duplicates": report.duplicates,
                    "ignored": report.ignored,
                },
            )

    async def seek_to_tracked(self, partitions: Sequence[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        for partition in partitions:
            tracked = await self.executor.run(
                self.app.booking_recorder.max_tracking_id, stream_name(partition)
            )
            if tracked is not None:
                consumer.seek(partition, tracked + 1)
        self.assigned.set()

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: Exception) -> None:
        if self._producer is None:
            producer = create_producer(self.settings)
            await producer.start()
            self._producer = producer
        headers = dead_letter_headers(
            list(record.headers or ()),
            error=error,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer_group=self.settings.consumer_group,
        )
        await self._producer.send_and_wait(
            self.dead_letter_topic, value=record.value, key=record.key, headers=headers
        )
        DEAD_LETTER_MESSAGES.labels(topic=record.topic, reason=type(error).__name__).inc()
        logger.warning(
            "inventory message sent to the dead-letter topic",
            extra={
                "offset": record.offset,
                "partition": record.partition,
                "error": str(error)[:500],
                "ce_type": header_map(record.headers).get(ce.CE_TYPE),
            },
        )

    async def _observe_lag(self, consumer: AIOKafkaConsumer) -> None:
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is None:
                continue
            with contextlib.suppress(Exception):
                position = await consumer.position(partition)
                KAFKA_CONSUMER_LAG.labels(
                    topic=partition.topic, partition=str(partition.partition)
                ).set(max(0, highwater - position))

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
