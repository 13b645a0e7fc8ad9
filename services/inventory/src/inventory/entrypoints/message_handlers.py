"""Kafka subscribers: decode a partition's batch, decide it, then commit the offset."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from inventory.adapters import metrics
from inventory.adapters.retries import RetryPolicy
from inventory.application.messages import (
    DecodedMessage,
    InboundMessage,
    MessagePosition,
    OutgoingMessage,
    PoisonMessage,
)
from inventory.application.process_batch import BatchResult, ProcessMessageBatch
from inventory.domain import outcomes
from service_kit.circuit_breakers import CircuitBreaker
from service_kit.dead_letters import build_dead_letter
from service_kit.messaging import header_map, message_context
from service_kit.metrics import DEAD_LETTER_MESSAGES
from ticketing_contracts.events import (
    ContractError,
    ContractViolation,
    UndecodableMessage,
    UnknownEventType,
    decode_message,
)

logger = logging.getLogger(__name__)


def dead_letter_reason(error: ContractError) -> str:
    if isinstance(error, UnknownEventType):
        return "unknown_event_type"
    if isinstance(error, ContractViolation):
        return "contract_violation"
    if isinstance(error, UndecodableMessage):
        return "undecodable"
    return "contract_error"


def inbound_message(record: Any, *, dead_letter_topic: str, consumer_group: str) -> InboundMessage:
    position = MessagePosition(record.topic, record.partition, record.offset)
    try:
        if not record.value:
            raise UndecodableMessage("empty message")
        envelope, event = decode_message(record.value)
    except ContractError as error:
        dead_letter = build_dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
            error=error,
            consumer_group=consumer_group,
        )
        return PoisonMessage(
            position,
            dead_letter_reason(error),
            OutgoingMessage(
                dead_letter.message_id,
                dead_letter_topic,
                dead_letter.key,
                dead_letter.value,
                dead_letter.headers,
            ),
        )
    return DecodedMessage(position, envelope, event)


class InventoryBatchHandler:
    """Runs the batch use case with retries inside the PostgreSQL circuit breaker."""

    def __init__(
        self,
        process: ProcessMessageBatch,
        *,
        postgres_breaker: CircuitBreaker,
        retry: RetryPolicy,
        dead_letter_topic: str,
        consumer_group: str,
        operation: str,
        after_commit: Callable[[], None] = lambda: None,
        consumer: AIOKafkaConsumer | None = None,
    ) -> None:
        self._process = process
        self._postgres_breaker = postgres_breaker
        self._retry = retry
        self._dead_letter_topic = dead_letter_topic
        self._consumer_group = consumer_group
        self._operation = operation
        self._after_commit = after_commit
        self._consumer = consumer

    async def __call__(self, tp: TopicPartition, records: list[Any]) -> None:
        messages = [
            inbound_message(
                record,
                dead_letter_topic=self._dead_letter_topic,
                consumer_group=self._consumer_group,
            )
            for record in records
        ]
        started = time.perf_counter()
        first = records[0]
        with message_context(header_map(first.headers)):
            result = await self._retry.run(self._operation, lambda: self._guarded(messages))
        metrics.BATCH_COMMIT_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(records))
        self._count(tp, result)
        if result.waited_for_catalog:
            logger.info("%s: waited for the catalog to catch up before deciding", tp)
        self._after_commit()
        if self._consumer is not None:
            await self._commit_offset(self._consumer, tp, records[-1].offset + 1)

    async def _guarded(self, messages: list[InboundMessage]) -> BatchResult:
        with self._postgres_breaker.calling():
            return await self._process(messages)

    async def _commit_offset(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int
    ) -> None:
        try:
            await consumer.commit({tp: OffsetAndMetadata(offset, "")})
        except KafkaError as error:
            # The batch is committed in PostgreSQL; whoever reads these offsets again
            # recognises them as processed.
            logger.warning("offset commit for %s failed: %r", tp, error)

    @staticmethod
    def _count(tp: TopicPartition, result: BatchResult) -> None:
        for outcome in result.outcomes:
            match outcome:
                case outcomes.TicketsReserved():
                    metrics.RESERVATIONS.inc()
                case outcomes.ReservationRejected(reason=reason):
                    metrics.REJECTIONS.labels(reason=reason.value).inc()
                case outcomes.TicketsReleased(reason=release_reason):
                    metrics.RELEASES.labels(reason=release_reason.value).inc()
        for problem, count in result.dead_letters.items():
            DEAD_LETTER_MESSAGES.labels(topic=tp.topic, reason=problem).inc(count)
            logger.warning("%d message(s) of %s dead-lettered: %s", count, tp, problem)
