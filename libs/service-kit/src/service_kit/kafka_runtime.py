"""One Kafka runtime for every service: a faststream broker, batch subscribers, one failure policy.

A service declares each subscriber as a plain async function that takes a `PartitionBatch`
of decoded messages and stores its effects together with `batch.next_offset` in one
transaction. The runtime does everything else, the same way in every service:

- Positions: a partition starts where the service's own database says (its `OffsetStore`),
  checked whenever the group hands the partition out; Kafka's committed offsets are only a
  copy for tooling. Every batch a subscriber sees continues exactly where the last one ended.
- Failures: a transient one (database or broker unavailable, a circuit breaker open) backs
  off with tenacity and tries the same batch again, keeping the position. A message that
  cannot be decoded or violates the contract, or that fails `consumer_max_failures` times
  for any other reason, goes to the dead-letter topic with the error, where it came from,
  the consumer group and the service; the partition moves on.
- Metrics: lag per partition, batch size and seconds, failures, retries and dead letters.

Publishing (outbox relays, dead letters) goes through the same broker: `publish`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import asyncpg
import pybreaker
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import FAKE_CONSUMER, KafkaMessage
from opentelemetry.trace import SpanKind, set_span_in_context
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from service_kit.dead_letters import build_dead_letter
from service_kit.kafka_security import broker_security
from service_kit.messaging import header_map, message_context
from service_kit.metrics import (
    DEAD_LETTER_MESSAGES,
    KAFKA_CONSUMER_BATCH_SECONDS,
    KAFKA_CONSUMER_BATCH_SIZE,
    KAFKA_CONSUMER_FAILURES,
    KAFKA_CONSUMER_LAG,
    KAFKA_POSITION_BEYOND_LOG_END,
    RETRIES,
)
from service_kit.settings import KafkaSettings
from service_kit.tracing import context_from_headers, current_tracer_provider, inject_trace_headers
from ticketing_contracts import headers as ce
from ticketing_contracts import topics
from ticketing_contracts.events import (
    ContractError,
    ContractViolation,
    UndecodableMessage,
    UnknownEventType,
)

logger = logging.getLogger(__name__)

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
    it) raises `OffsetsMoved` instead of storing, so a batch read at stale positions never
    records them. None where the runtime keeps no positions (replays, the test broker).
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


OffsetStore = Callable[[Collection[TopicPartition]], Awaitable[Mapping[TopicPartition, int]]]
"""Next offset to read per partition, from the service's database (missing: from the start)."""

BatchHandler = Callable[[PartitionBatch[BodyT]], Awaitable[None]]
Decoder = Callable[[bytes], BodyT]


@dataclass(frozen=True)
class OutboundMessage:
    topic: str
    key: bytes | None
    value: bytes
    headers: KafkaHeaders


def _each_offset_once(
    name: str, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]
) -> list[ConsumerRecord[Any, Any]]:
    """The fetched records in offset order, each offset once.

    A fetch can hand over a record twice (seen on the local broker after a seek): handled
    twice in one batch, the subscriber's own duplicate checks would reject the whole batch.
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


class OffsetsMoved(Exception):
    """Raised by a subscriber when its stored offsets changed under it (e.g. a read-model
    switch): the runtime reads them again and continues every partition from there."""


_TRANSIENT_POSTGRES = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def is_transient(error: BaseException) -> bool:
    """Failures that say "not now" rather than "never": retry them, keep the position."""
    if isinstance(error, pybreaker.CircuitBreakerError | KafkaError):
        return True
    return isinstance(error, (*_TRANSIENT_POSTGRES, ConnectionError, OSError, TimeoutError))


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


class _Positions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks every partition the group hands out to where the service's database says."""

    def __init__(self, subscription: Subscription[Any]) -> None:
        self._subscription = subscription

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        self._subscription.forget(revoked)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        # A rebuilt broker always hands partitions out anew: recover before reading from it.
        await self._subscription.runtime.before_assignment()
        await self._subscription.position(assigned)


OFFSET_COPY_SHUTDOWN_SECONDS = 2.0


class Subscription(Generic[BodyT]):
    """One subscriber function on one or more topics, with its offsets and failure policy."""

    def __init__(
        self,
        runtime: KafkaRuntime,
        *,
        name: str,
        topics: Sequence[str],
        group: str | None,
        decode: Decoder[BodyT],
        offsets: OffsetStore,
        handle: BatchHandler[BodyT],
        is_transient: Callable[[BaseException], bool],
        dead_letter_group: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.topics = tuple(topics)
        self.group = group
        # Dead letters name the group whose operator re-drives them (`dead-letters redrive`).
        self.dead_letter_group = dead_letter_group or group or name
        self._decode = decode
        self._offsets = offsets
        self._handle = handle
        self._is_transient = is_transient
        self._expected: dict[TopicPartition, int] = {}
        self._sought: set[TopicPartition] = set()
        self._behind_since: dict[TopicPartition, float] = {}
        self.beyond_log_end: set[TopicPartition] = set()
        """Partitions whose stored position is past the broker's log end (logged once each)."""
        self.started_at = time.monotonic()
        self.ever_assigned = False
        self.assigned = asyncio.Event()
        self.faststream_subscriber: Any = None
        # Kafka's copy of the positions, sent at most once per interval for all partitions.
        self._copies_due: dict[TopicPartition, int] = {}
        self._copy_task: asyncio.Task[None] | None = None

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        """The real consumer once started (None under faststream's TestKafkaBroker).

        For inspection only (positions, high watermarks, end offsets): the runtime polls.
        """
        consumer = getattr(self.faststream_subscriber, "consumer", None)
        return consumer if isinstance(consumer, AIOKafkaConsumer) else None

    def handled_offsets(self) -> dict[TopicPartition, int]:
        """Next offset per partition that this subscriber has handled up to."""
        return dict(self._expected)

    def lag_seconds(self) -> float:
        """How long the furthest-behind assigned partition has had unhandled messages."""
        now = time.monotonic()
        if not self.ever_assigned:
            return now - self.started_at
        return max((now - since for since in self._behind_since.values()), default=0.0)

    # -- positions ---------------------------------------------------------------------

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._expected.pop(tp, None)
            self._sought.discard(tp)
            self._behind_since.pop(tp, None)
            self._copies_due.pop(tp, None)

    async def position(self, partitions: Collection[TopicPartition]) -> None:
        stored = await self._with_backoff(
            f"{self.name}:offsets", lambda: self._offsets(list(partitions))
        )
        consumer = self.consumer
        for tp in partitions:
            self._expected[tp] = stored.get(tp, 0)
            if consumer is not None:
                consumer.seek(tp, self._expected[tp])
                self._sought.add(tp)
        self.ever_assigned = True
        self.assigned.set()
        if partitions:
            logger.info(
                "%s: partitions positioned from the database",
                self.name,
                extra={"positions": {f"{tp.topic}[{tp.partition}]": o for tp, o in stored.items()}},
            )
        await self._check_log_ends([tp for tp in partitions if self._expected.get(tp, 0) > 0])

    async def _check_log_ends(self, partitions: Collection[TopicPartition]) -> None:
        """An empty new topic sends nothing: only its log end shows the position is gone."""
        consumer = self.consumer
        if consumer is None or not partitions:
            return
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(list(partitions)), 10.0)
        except (KafkaError, OSError, TimeoutError) as error:
            logger.debug("%s: reading log end offsets failed: %r", self.name, error)
            return
        for tp, end in ends.items():
            if tp in self._expected and end < self._expected[tp]:
                self._refuse_beyond_log_end(tp, end)

    def _refuse_beyond_log_end(self, tp: TopicPartition, log_end: int) -> None:
        if tp in self.beyond_log_end:
            return
        self.beyond_log_end.add(tp)
        KAFKA_POSITION_BEYOND_LOG_END.labels(
            subscriber=self.name, topic=tp.topic, partition=str(tp.partition)
        ).inc()
        logger.error(
            "%s: %s[%d] ends at offset %d but the stored position is %d: the broker lost "
            "this partition's messages; refusing to skip what it will receive below %d. "
            "Restart the service so it recovers from the broker change "
            "(runbook: lost-kafka-cluster)",
            self.name,
            tp.topic,
            tp.partition,
            log_end,
            self._expected[tp],
            self._expected[tp],
        )

    def _contiguous(self, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]) -> bool:
        """Drops records already handled; False (after a seek) when the batch is not next."""
        expected = self._expected[tp]
        consumer = self.consumer
        if records and records[0].offset < expected and consumer is not None:
            highwater = consumer.highwater(tp)
            if highwater is not None and highwater < expected:
                self._refuse_beyond_log_end(tp, highwater)
        while records and records[0].offset < expected:
            records.pop(0)
        if not records or records[0].offset == expected:
            self._sought.discard(tp)
            return bool(records)
        if tp in self._sought or consumer is None:
            # Already sought there and the broker has nothing below: the log starts later.
            logger.warning(
                "%s: %s[%d] continues at %d, not %d (the broker no longer has the messages "
                "between)",
                self.name,
                tp.topic,
                tp.partition,
                records[0].offset,
                expected,
            )
            self._sought.discard(tp)
            return True
        consumer.seek(tp, expected)
        self._sought.add(tp)
        return False

    # -- consuming ---------------------------------------------------------------------

    async def consume(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """faststream's handler for one fetched batch (any number of partitions)."""
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
        self._observe_lag()

    async def _reposition(self) -> None:
        consumer = self.consumer
        partitions = list(consumer.assignment()) if consumer is not None else list(self._expected)
        self.forget(list(self._expected))
        await self.position(partitions)

    async def _consume_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]
    ) -> None:
        records = _each_offset_once(self.name, tp, records)
        if self.consumer is not None:
            if tp not in self._expected:
                await self.position([tp])
            if not self._contiguous(tp, records):
                return
        started = time.perf_counter()
        decoded: list[ConsumedMessage[BodyT]] = []
        poison: list[tuple[ConsumerRecord[Any, Any], ContractError]] = []
        for record in records:
            try:
                decoded.append(self._decoded(record))
            except ContractError as violation:
                poison.append((record, violation))
            except Exception as error:  # a decoder that cannot cope: still the message's fault
                poison.append((record, UndecodableMessage(f"{type(error).__name__}: {error}")))
        for record, problem in poison:
            await self.dead_letter(record, problem)
        next_offset = records[-1].offset + 1
        raw = {record.offset: record for record in records}
        continues_from = self._expected.get(tp) if self.consumer is not None else None
        with consumer_spans(decoded) as traced:
            await self._handle_with_policy(
                PartitionBatch(tp.topic, tp.partition, traced, next_offset, continues_from), raw
            )
        self._expected[tp] = next_offset
        KAFKA_CONSUMER_BATCH_SIZE.labels(subscriber=self.name).observe(len(records))
        KAFKA_CONSUMER_BATCH_SECONDS.labels(subscriber=self.name).observe(
            time.perf_counter() - started
        )
        self._queue_offset_copy(tp, next_offset)

    def _decoded(self, record: ConsumerRecord[Any, Any]) -> ConsumedMessage[BodyT]:
        """Raises ContractError for a message that can never be processed."""
        if not record.value:
            raise UndecodableMessage("empty message")
        body = self._decode(record.value)
        return ConsumedMessage(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            header_map(record.headers),
            body,
        )

    async def _handle_with_policy(
        self, batch: PartitionBatch[BodyT], raw: Mapping[int, ConsumerRecord[Any, Any]]
    ) -> None:
        try:
            await self._call(batch)
            return
        except OffsetsMoved:
            raise
        except Exception as error:
            if len(batch.messages) <= 1 and self.runtime.settings.consumer_max_failures <= 1:
                await self._give_up(batch, raw, error)
                return
            KAFKA_CONSUMER_FAILURES.labels(subscriber=self.name, kind="batch").inc()
            logger.warning(
                "%s: batch %s[%d]@%d failed, handling its messages one by one: %r",
                self.name,
                batch.topic,
                batch.partition,
                batch.messages[0].offset if batch.messages else batch.next_offset,
                error,
            )
        await self._one_by_one(batch, raw)

    async def _one_by_one(
        self, batch: PartitionBatch[BodyT], raw: Mapping[int, ConsumerRecord[Any, Any]]
    ) -> None:
        attempts = self.runtime.settings.consumer_max_failures
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
                    KAFKA_CONSUMER_FAILURES.labels(subscriber=self.name, kind="message").inc()
                    with message.logging_context():
                        logger.warning(
                            "%s: message %s[%d]@%d failed (attempt %d of %d): %r",
                            self.name,
                            message.topic,
                            message.partition,
                            message.offset,
                            attempt,
                            attempts,
                            error,
                        )
                    if attempt == attempts:
                        await self.dead_letter(raw[message.offset], error)
                        # Stored at once: the next message's batch continues after it.
                        await self._call(replace(single, messages=[]))
            position = single.next_offset if position is not None else None
            reached = single.next_offset
        if reached != batch.next_offset:
            await self._call(
                PartitionBatch(batch.topic, batch.partition, [], batch.next_offset, position)
            )

    async def _give_up(
        self,
        batch: PartitionBatch[BodyT],
        raw: Mapping[int, ConsumerRecord[Any, Any]],
        error: BaseException,
    ) -> None:
        for message in batch.messages:
            await self.dead_letter(raw[message.offset], error)
        await self._call(
            PartitionBatch(
                batch.topic, batch.partition, [], batch.next_offset, batch.continues_from
            )
        )

    async def _call(self, batch: PartitionBatch[BodyT]) -> None:
        """The subscriber, retried with backoff while failures are transient."""
        await self._with_backoff(self.name, lambda: self._handle(batch))

    async def _with_backoff(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
        settings = self.runtime.settings

        def before_sleep(state: RetryCallState) -> None:
            RETRIES.labels(operation=operation).inc()
            KAFKA_CONSUMER_FAILURES.labels(subscriber=self.name, kind="transient").inc()
            error = state.outcome.exception() if state.outcome is not None else None
            logger.warning(
                "%s: transient failure (attempt %d), backing off: %r",
                operation,
                state.attempt_number,
                error,
            )

        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(
                multiplier=settings.consumer_retry_initial_seconds,
                max=settings.consumer_retry_max_seconds,
                jitter=settings.consumer_retry_initial_seconds,
            ),
            retry=retry_if_exception(self._is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def dead_letter(self, record: ConsumerRecord[Any, Any], error: BaseException) -> None:
        reason = dead_letter_reason(error)
        letter = build_dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
            error=error,
            consumer_group=self.dead_letter_group,
        )
        message = OutboundMessage(
            self.runtime.dead_letter_topic,
            letter.key,
            letter.value,
            [
                *letter.headers,
                (ce.DEAD_LETTER_SERVICE, self.runtime.settings.service_name.encode()),
            ],
        )
        await self._with_backoff(
            f"{self.name}:dead_letter", lambda: self.runtime.publish([message])
        )
        DEAD_LETTER_MESSAGES.labels(topic=record.topic, reason=reason).inc()
        with message_context(header_map(record.headers)):
            logger.warning(
                "%s: message sent to the dead-letter topic",
                self.name,
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "reason": reason,
                    "error": f"{type(error).__name__}: {error}"[:500],
                },
            )

    def _queue_offset_copy(self, tp: TopicPartition, next_offset: int) -> None:
        """Kafka's copy of a position goes out with every other partition's handled within
        `consumer_offset_copy_seconds`: one commit request, off the consuming path."""
        if self.consumer is None or self.group is None:
            return
        self._copies_due[tp] = next_offset
        if self._copy_task is None or self._copy_task.done():
            self._copy_task = asyncio.create_task(self._send_offset_copies_later())

    async def _send_offset_copies_later(self) -> None:
        await asyncio.sleep(self.runtime.settings.consumer_offset_copy_seconds)
        await self._send_offset_copies()

    async def _send_offset_copies(self) -> None:
        copies, self._copies_due = self._copies_due, {}
        consumer = self.consumer
        if not copies or consumer is None:
            return
        sent = False
        try:
            await consumer.commit(copies)
            sent = True
        except Exception as error:  # the database holds the offsets; Kafka's copy is for tooling
            logger.debug("%s: committing the offset copy failed: %r", self.name, error)
        finally:
            if not sent:  # failed or cancelled: due again, unless a newer position came since
                for tp, offset in copies.items():
                    self._copies_due.setdefault(tp, offset)

    async def send_offset_copies_now(self) -> None:
        """Before the consumer stops, so tooling sees the last positions (bounded: a broker
        that is away must not hold up the shutdown)."""
        if self._copy_task is not None and not self._copy_task.done():
            self._copy_task.cancel()
            await asyncio.wait([self._copy_task])  # its cut-off copies are due again
        try:
            async with asyncio.timeout(OFFSET_COPY_SHUTDOWN_SECONDS):
                await self._send_offset_copies()
        except TimeoutError:
            logger.debug("%s: the last offset copy was not sent in time", self.name)

    def _observe_lag(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        now = time.monotonic()
        for tp, handled in self._expected.items():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            lag = max(0, highwater - handled)
            KAFKA_CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
            if lag == 0:
                self._behind_since.pop(tp, None)
            else:
                self._behind_since.setdefault(tp, now)


class KafkaRuntime:
    """A service's faststream broker with its subscriptions; `start()`, then `stop()`."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        broker: KafkaBroker | None = None,
        is_transient: Callable[[BaseException], bool] = is_transient,
    ) -> None:
        self.settings = settings
        self.broker = broker or create_broker(settings)
        self.dead_letter_topic = settings.topic(topics.DEAD_LETTERS)
        self.subscriptions: list[Subscription[Any]] = []
        self._publishers: dict[str, Any] = {}
        self._assignment_checks: list[Callable[[], Awaitable[Any]]] = []
        self._is_transient = is_transient
        self.started = False
        self.publisher(
            self.dead_letter_topic,
            message_type=bytes,
            description=(
                "Messages a consumer gave up on: the original key, value and headers plus "
                "dlt_error, dlt_original_topic/partition/offset, dlt_consumer_group, dlt_service"
            ),
        )

    def publisher(self, topic: str, *, message_type: Any, description: str) -> None:
        """Declares that this service publishes `message_type` on `topic` (for AsyncAPI);
        `publish` then sends that topic's messages through this publisher."""
        if topic not in self._publishers:
            self._publishers[topic] = self.broker.publisher(
                topic, schema=message_type, title=f"{topic}:publish", description=description
            )

    def subscriber(
        self,
        *topics: str,
        group: str | None,
        decode: Decoder[BodyT],
        offsets: OffsetStore,
        name: str | None = None,
        description: str | None = None,
        message_type: Any = Any,
        dead_letter_group: str | None = None,
    ) -> Callable[[BatchHandler[BodyT]], Subscription[BodyT]]:
        """Registers a batch subscriber on `topics` (already prefixed).

        `group` None reads every partition in every replica (no consumer group); give it a
        `dead_letter_group` so the service's `dead-letters` commands find its dead letters.
        `message_type` documents the body in the AsyncAPI document.
        """

        def register(handle: BatchHandler[BodyT]) -> Subscription[BodyT]:
            subscription: Subscription[BodyT] = Subscription(
                self,
                name=name or str(getattr(handle, "__name__", type(handle).__name__)),
                topics=topics,
                group=group,
                decode=decode,
                offsets=offsets,
                handle=handle,
                is_transient=self._is_transient,
                dead_letter_group=dead_letter_group,
            )

            async def consume(records: Any) -> None:
                await subscription.consume(records)

            # faststream documents the payload from the handler's annotation; the runtime
            # decodes each message itself, so one bad message cannot fail its neighbours.
            consume.__annotations__ = {"records": list[message_type], "return": None}
            consume.__name__ = subscription.name
            consume.__doc__ = description or handle.__doc__
            subscriber = self.broker.subscriber(
                *topics,
                batch=True,
                group_id=group,
                auto_offset_reset="earliest",
                max_records=self.settings.consumer_max_batch,
                batch_timeout_ms=self.settings.consumer_fetch_timeout_ms,
                fetch_max_wait_ms=self.settings.consumer_fetch_timeout_ms,
                ack_policy=AckPolicy.MANUAL,
                listener=_Positions(subscription) if group is not None else None,
                decoder=_raw_records,
                parser=_lenient_batch_parser,
                title=f"{subscription.name}:consume",
                description=description or handle.__doc__,
            )
            subscriber(consume)
            subscription.faststream_subscriber = subscriber
            self.subscriptions.append(subscription)
            return subscription

        return register

    async def start(self) -> None:
        await self.broker.start()
        self.started = True

    async def broker_probe(self) -> None:
        """Readiness: the broker answers the runtime's own long-lived admin client (no new
        connection per probe)."""
        if not self.started or not await self.broker.ping(timeout=2):
            raise RuntimeError("the Kafka broker does not answer")

    def check_on_assignment(self, check: Callable[[], Awaitable[Any]]) -> None:
        """Runs `check` (e.g. the broker watch's) whenever the group hands out partitions,
        before their positions are read."""
        self._assignment_checks.append(check)

    async def before_assignment(self) -> None:
        for check in self._assignment_checks:
            try:
                await check()
            except Exception as error:  # the periodic watch tries again
                logger.warning("check before reading new partitions failed: %r", error)

    def reposition(self) -> None:
        """Every subscription reads its stored positions again before its next batch (the
        service's database moved them, e.g. after a broker change)."""
        for subscription in self.subscriptions:
            subscription.forget(list(subscription.handled_offsets()))

    async def stop(self) -> None:
        self.started = False
        for subscription in self.subscriptions:
            await subscription.send_offset_copies_now()
        await self.broker.stop()

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Sends in order and waits for every acknowledgement (keyed order holds per partition)."""
        pending = []
        for message in messages_with_publish_spans(messages):
            publisher = self._publishers.get(message.topic)
            if publisher is None:
                sent = await self.broker.publish(
                    message.value,
                    message.topic,
                    key=message.key,
                    headers=header_map(message.headers),
                    no_confirm=True,
                )
            else:
                sent = await publisher.publish(
                    message.value,
                    key=message.key,
                    headers=header_map(message.headers),
                    no_confirm=True,
                )
            if isinstance(sent, asyncio.Future):
                pending.append(sent)
        if pending:
            await asyncio.gather(*pending)

    async def probe(self) -> None:
        """Readiness: the broker is connected and every subscriber is running."""
        if not self.started:
            raise RuntimeError("the Kafka runtime is not running")
        for subscription in self.subscriptions:
            running = getattr(subscription.faststream_subscriber, "running", True)
            if not running:
                raise RuntimeError(f"subscriber {subscription.name} is not running")


@contextmanager
def consumer_spans(
    messages: Sequence[ConsumedMessage[BodyT]],
) -> Iterator[Sequence[ConsumedMessage[BodyT]]]:
    """One CONSUMER span per message, a child of the trace its headers carry, open while
    the batch is handled; each message then carries its span's `traceparent`."""
    provider = current_tracer_provider()
    if provider is None or not messages:
        yield messages
        return
    tracer = provider.get_tracer(__name__)
    spans = [
        tracer.start_span(
            f"{message.topic} process",
            context=context_from_headers(message.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": message.topic,
                "messaging.destination.partition.id": str(message.partition),
                "messaging.kafka.offset": message.offset,
            },
        )
        for message in messages
    ]
    try:
        yield [
            replace(message, trace_headers=inject_trace_headers([], set_span_in_context(span)))
            for message, span in zip(messages, spans, strict=True)
        ]
    finally:
        for span in spans:
            span.end()


def messages_with_publish_spans(messages: Sequence[OutboundMessage]) -> list[OutboundMessage]:
    """A PRODUCER span per message under the trace its headers carry (the request or the
    message that caused it); the message leaves with that span as its parent."""
    provider = current_tracer_provider()
    if provider is None:
        return list(messages)
    tracer = provider.get_tracer(__name__)
    published = []
    for message in messages:
        span = tracer.start_span(
            f"{message.topic} publish",
            context=context_from_headers(message.headers),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": message.topic},
        )
        headers = inject_trace_headers(list(message.headers), set_span_in_context(span))
        published.append(replace(message, headers=headers))
        span.end()
    return published


def create_broker(settings: KafkaSettings, **overrides: Any) -> KafkaBroker:
    """A broker whose producer waits for every in-sync replica before a send counts,
    authenticated and encrypted as the settings say (KAFKA_SECURITY_PROTOCOL...)."""
    options: dict[str, Any] = {
        "security": broker_security(settings),
        "client_id": settings.service_name,
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotent_producer,
        "linger_ms": 5,
        "max_batch_size": settings.kafka_producer_max_batch_bytes,
        "request_timeout_ms": 10_000,
        # The runtime decodes and validates each message itself (see KafkaRuntime.subscriber).
        "apply_types": False,
        "logger": logging.getLogger(f"{settings.service_name}.kafka"),
    }
    options.update(overrides)
    return KafkaBroker(settings.kafka_bootstrap_servers, **options)


async def _raw_records(message: KafkaMessage) -> Any:
    return message.raw_message


async def _lenient_batch_parser(records: Sequence[ConsumerRecord[Any, Any]]) -> Any:
    """faststream's own batch parser decodes headers strictly; one bad header would lose
    the whole batch before the runtime could dead-letter that message."""
    first = records[0] if records else None
    headers = header_map(first.headers) if first is not None else {}
    return KafkaMessage(
        body=b"",
        headers=headers,
        batch_headers=[header_map(record.headers) for record in records],
        content_type=headers.get("content-type"),
        message_id=f"{first.topic}-{first.partition}-{first.offset}" if first else "",
        correlation_id=headers.get(ce.CORRELATION_ID),
        raw_message=records,
        consumer=FAKE_CONSUMER,
    )


def asyncapi_document(runtime: KafkaRuntime, *, title: str, description: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document faststream generates from the runtime's subscribers and
    publishers; channel addresses carry the settings' topic prefix (none by default)."""
    from faststream.specification import AsyncAPI

    specification = AsyncAPI(
        runtime.broker,
        title=title,
        description=description,
        version=runtime.settings.service_version,
        schema_version="3.0.0",
    )
    document: dict[str, Any] = specification.to_specification().to_jsonable()
    return document
