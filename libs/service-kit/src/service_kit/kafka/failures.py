"""What happens when a message cannot be processed: it goes to the dead-letter topic and the
partition moves on.

A message that cannot be decoded or violates the contract goes at once. When a subscriber
fails a batch for any other reason (transient failures never count: `retries` waits them
out first), the batch is handled again message by message, and a message that fails
`consumer_max_failures` times goes. A dead letter carries the original key, value and
headers plus the error, where it came from, the consumer group and the service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord

from service_kit.dead_letters import build_dead_letter
from service_kit.kafka.messages import BatchHandler, OutboundMessage, PartitionBatch, Publish
from service_kit.kafka.positions import OffsetsMoved
from service_kit.kafka.retries import Backoff
from service_kit.messaging import header_map, message_context
from service_kit.metrics import DEAD_LETTER_MESSAGES, KAFKA_CONSUMER_FAILURES
from ticketing_contracts import headers as ce
from ticketing_contracts.events import (
    ContractError,
    ContractViolation,
    UndecodableMessage,
    UnknownEventType,
)

logger = logging.getLogger(__name__)

BodyT = TypeVar("BodyT")

RawRecords = Mapping[int, ConsumerRecord[Any, Any]]
"""The fetched records of a batch by offset: what a dead letter carries."""


def dead_letter_reason(error: BaseException) -> str:
    if isinstance(error, UnknownEventType):
        return "unknown_event_type"
    if isinstance(error, ContractViolation):
        return "contract_violation"
    if isinstance(error, UndecodableMessage):
        return "undecodable"
    if isinstance(error, ContractError):
        return "contract_error"
    return "processing_failed"


class DeadLetterSender:
    """Sends one subscriber's poison messages to the dead-letter topic."""

    def __init__(
        self,
        *,
        subscriber: str,
        topic: str,
        consumer_group: str,
        service: str,
        publish: Publish,
        backoff: Backoff,
    ) -> None:
        self._subscriber = subscriber
        self._topic = topic
        # Dead letters name the group whose operator re-drives them (`dead-letters redrive`).
        self._consumer_group = consumer_group
        self._service = service
        self._publish = publish
        self._backoff = backoff

    async def send(self, record: ConsumerRecord[Any, Any], error: BaseException) -> None:
        reason = dead_letter_reason(error)
        letter = build_dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
            error=error,
            consumer_group=self._consumer_group,
        )
        message = OutboundMessage(
            self._topic,
            letter.key,
            letter.value,
            [*letter.headers, (ce.DEAD_LETTER_SERVICE, self._service.encode())],
        )
        await self._backoff.call(
            f"{self._subscriber}:dead_letter", lambda: self._publish([message])
        )
        DEAD_LETTER_MESSAGES.labels(topic=record.topic, reason=reason).inc()
        with message_context(header_map(record.headers)):
            logger.warning(
                "%s: message sent to the dead-letter topic",
                self._subscriber,
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "reason": reason,
                    "error": f"{type(error).__name__}: {error}"[:500],
                },
            )


class FailurePolicy(Generic[BodyT]):
    """Hands batches to one subscriber: a failed batch again message by message, a message
    that keeps failing to the dead-letter topic, its position stored all the same."""

    def __init__(
        self,
        *,
        subscriber: str,
        handle: BatchHandler[BodyT],
        backoff: Backoff,
        max_failures: int,
        dead_letters: DeadLetterSender,
    ) -> None:
        self._subscriber = subscriber
        self._handle = handle
        self._backoff = backoff
        self._max_failures = max_failures
        self._dead_letters = dead_letters

    async def handle(self, batch: PartitionBatch[BodyT], raw: RawRecords) -> None:
        try:
            await self._call(batch)
            return
        except OffsetsMoved:
            raise
        except Exception as error:
            if len(batch.messages) <= 1 and self._max_failures <= 1:
                await self._give_up(batch, raw, error)
                return
            KAFKA_CONSUMER_FAILURES.labels(subscriber=self._subscriber, kind="batch").inc()
            logger.warning(
                "%s: batch %s[%d]@%d failed, handling its messages one by one: %r",
                self._subscriber,
                batch.topic,
                batch.partition,
                batch.messages[0].offset if batch.messages else batch.next_offset,
                error,
            )
        await self._one_by_one(batch, raw)

    async def _one_by_one(self, batch: PartitionBatch[BodyT], raw: RawRecords) -> None:
        attempts = self._max_failures
        position = batch.continues_from
        reached = None
        for message in batch.messages:
            single = PartitionBatch(
                batch.topic, batch.partition, [message], message.offset + 1, position
            )
            for attempt in range(1, attempts + 1):
                try:
                    await self._call(single)
                    break
                except OffsetsMoved:
                    raise
                except Exception as error:
                    KAFKA_CONSUMER_FAILURES.labels(
                        subscriber=self._subscriber, kind="message"
                    ).inc()
                    with message.logging_context():
                        logger.warning(
                            "%s: message %s[%d]@%d failed (attempt %d of %d): %r",
                            self._subscriber,
                            message.topic,
                            message.partition,
                            message.offset,
                            attempt,
                            attempts,
                            error,
                        )
                    if attempt == attempts:
                        await self._dead_letters.send(raw[message.offset], error)
                        # Stored at once: the next message's batch continues after it.
                        await self._call(replace(single, messages=[]))
            position = single.next_offset if position is not None else None
            reached = single.next_offset
        if reached != batch.next_offset:
            await self._call(
                PartitionBatch(batch.topic, batch.partition, [], batch.next_offset, position)
            )

    async def _give_up(
        self, batch: PartitionBatch[BodyT], raw: RawRecords, error: BaseException
    ) -> None:
        for message in batch.messages:
            await self._dead_letters.send(raw[message.offset], error)
        await self._call(
            PartitionBatch(
                batch.topic, batch.partition, [], batch.next_offset, batch.continues_from
            )
        )

    async def _call(self, batch: PartitionBatch[BodyT]) -> None:
        """The subscriber, retried with backoff while failures are transient."""
        await self._backoff.call(self._subscriber, lambda: self._handle(batch))
