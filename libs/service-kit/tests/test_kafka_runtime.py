"""The consumer runtime's failure policy, on faststream's in-memory TestKafkaBroker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from types import SimpleNamespace
from typing import Any

import pybreaker
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream.kafka import TestKafkaBroker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service_kit.kafka_runtime import (
    KafkaRuntime,
    OutboundMessage,
    PartitionBatch,
    asyncapi_document,
)
from service_kit.settings import KafkaSettings
from service_kit.tracing import configure_tracing, shutdown_tracing
from ticketing_contracts import headers as ce
from ticketing_contracts.events import ContractViolation

TOPIC = "orders"


class Order:
    def __init__(self, number: int) -> None:
        self.number = number


def decode_order(value: bytes) -> Order:
    data = json.loads(value)
    if not isinstance(data.get("number"), int):
        raise ContractViolation("number: must be an integer")
    return Order(data["number"])


async def from_the_start(partitions: Collection[TopicPartition]) -> Mapping[TopicPartition, int]:
    return {}


def settings(**overrides: Any) -> KafkaSettings:
    values: dict[str, Any] = {
        "service_name": "orders-service",
        "consumer_retry_initial_seconds": 0.001,
        "consumer_retry_max_seconds": 0.002,
    }
    values.update(overrides)
    return KafkaSettings(**values)


class Recorder:
    """A subscriber that remembers what it stored, failing on the numbers it is told to."""

    def __init__(self, *, fail_on: set[int] = frozenset(), transient_failures: int = 0) -> None:
        self.stored: list[int] = []
        self.next_offsets: list[int] = []
        self.fail_on = fail_on
        self.transient_failures = transient_failures
        self.calls = 0

    async def __call__(self, batch: PartitionBatch[Order]) -> None:
        self.calls += 1
        if self.transient_failures:
            self.transient_failures -= 1
            raise ConnectionError("database unavailable")
        if any(message.body.number in self.fail_on for message in batch.messages):
            raise ValueError("value too long for type character varying(10)")
        self.stored.extend(message.body.number for message in batch.messages)
        self.next_offsets.append(batch.next_offset)


def runtime_with(recorder: Recorder, **overrides: Any) -> tuple[KafkaRuntime, list[Any]]:
    runtime = KafkaRuntime(settings(**overrides))
    runtime.subscriber(TOPIC, group="orders", decode=decode_order, offsets=from_the_start)(recorder)
    dead_letters: list[Any] = []

    async def raw_body(message: Any) -> bytes:
        return bytes(message.body)

    @runtime.broker.subscriber(runtime.dead_letter_topic, decoder=raw_body)
    async def collect(body: bytes) -> None:
        dead_letters.append(body)

    return runtime, dead_letters


async def publish(broker: Any, value: bytes, **headers: str) -> None:
    await broker.publish(value, TOPIC, key=b"show-1", headers=headers)


async def test_hands_decoded_messages_to_the_subscriber_with_the_offset_to_store() -> None:
    recorder = Recorder()
    runtime, dead_letters = runtime_with(recorder)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 7}')
    assert recorder.stored == [7]
    assert recorder.next_offsets == [1]
    assert dead_letters == []


async def test_dead_letters_a_contract_violation_and_still_records_its_offset() -> None:
    recorder = Recorder()
    runtime, _ = runtime_with(recorder)
    sent: list[OutboundMessage] = []

    async def capture(messages: list[OutboundMessage]) -> None:
        sent.extend(messages)

    runtime.publish = capture  # type: ignore[method-assign]
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": "seven"}', correlation_id="req-1")
    assert recorder.stored == []
    assert recorder.next_offsets == [1], "the partition moves past the poison message"
    [letter] = sent
    headers = dict(letter.headers)
    assert letter.topic == runtime.dead_letter_topic
    assert letter.value == b'{"number": "seven"}'
    assert headers[ce.DEAD_LETTER_ERROR].startswith(b"ContractViolation: number")
    assert headers[ce.DEAD_LETTER_ORIGINAL_TOPIC] == TOPIC.encode()
    assert headers[ce.DEAD_LETTER_ORIGINAL_OFFSET] == b"0"
    assert headers[ce.DEAD_LETTER_CONSUMER_GROUP] == b"orders"
    assert headers[ce.DEAD_LETTER_SERVICE] == b"orders-service"
    assert headers[ce.CORRELATION_ID] == b"req-1"


async def test_undecodable_bytes_go_to_the_dead_letter_topic() -> None:
    recorder = Recorder()
    runtime, dead_letters = runtime_with(recorder)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b"\x00not json")
    assert dead_letters == [b"\x00not json"]
    assert recorder.next_offsets == [1]


async def test_retries_a_transient_failure_until_it_passes_without_dead_lettering() -> None:
    recorder = Recorder(transient_failures=4)
    runtime, dead_letters = runtime_with(recorder)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 3}')
    assert recorder.stored == [3]
    assert recorder.calls == 5
    assert dead_letters == []


async def test_an_open_circuit_breaker_is_waited_out_not_dead_lettered() -> None:
    breaker_open = {"remaining": 2}

    async def guarded(batch: PartitionBatch[Order]) -> None:
        if breaker_open["remaining"]:
            breaker_open["remaining"] -= 1
            raise pybreaker.CircuitBreakerError("postgres breaker is open")
        await recorder(batch)

    recorder = Recorder()
    runtime = KafkaRuntime(settings())
    runtime.subscriber(TOPIC, group="orders", decode=decode_order, offsets=from_the_start)(guarded)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 5}')
    assert recorder.stored == [5]


async def test_a_message_that_keeps_failing_goes_to_the_dead_letter_topic_after_max_failures() -> (
    None
):
    recorder = Recorder(fail_on={13})
    runtime, dead_letters = runtime_with(recorder, consumer_max_failures=3)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 13}')
        await publish(broker, b'{"number": 14}')
    assert dead_letters == [b'{"number": 13}']
    assert recorder.stored == [14], "the partition goes on after the failing message"
    # One batch attempt, then three attempts alone, then the offset past it is recorded.
    assert recorder.calls == 1 + 3 + 1 + 1
    assert recorder.next_offsets[-1] == 1


def test_asyncapi_document_lists_subscribers_publishers_and_the_dead_letter_topic() -> None:
    runtime, _ = runtime_with(Recorder())
    runtime.publisher("orders.out", message_type=bytes, description="Order outcomes")
    document = asyncapi_document(runtime, title="orders-service", description="Orders")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {TOPIC, "orders.out", runtime.dead_letter_topic} <= addresses
    operations = {operation["action"] for operation in document["operations"].values()}
    assert operations == {"receive", "send"}


async def test_a_consumed_message_continues_its_trace_into_what_it_publishes() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("orders-service", exporter=exporter)
    try:
        runtime = KafkaRuntime(settings())
        outcome_topic = "orders.outcomes"
        runtime.publisher(outcome_topic, message_type=bytes, description="Outcomes")

        async def confirm(batch: PartitionBatch[Order]) -> None:
            await runtime.publish(
                [
                    OutboundMessage(outcome_topic, b"show-1", b"confirmed", message.trace_headers)
                    for message in batch.messages
                ]
            )

        runtime.subscriber(TOPIC, group="orders", decode=decode_order, offsets=from_the_start)(
            confirm
        )
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        async with TestKafkaBroker(runtime.broker) as broker:
            await publish(
                broker, b'{"number": 1}', traceparent=f"00-{trace_id}-00f067aa0ba902b7-01"
            )
    finally:
        shutdown_tracing()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    process, publish_outcome = spans[f"{TOPIC} process"], spans[f"{outcome_topic} publish"]
    assert f"{process.context.trace_id:032x}" == trace_id
    assert process.parent is not None
    assert f"{process.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert publish_outcome.context.trace_id == process.context.trace_id
    assert publish_outcome.parent is not None
    assert publish_outcome.parent.span_id == process.context.span_id


async def test_the_broker_probe_fails_until_the_runtime_is_connected() -> None:
    runtime = KafkaRuntime(settings())
    with pytest.raises(RuntimeError, match="does not answer"):
        await runtime.broker_probe()


async def test_checks_run_before_new_partitions_are_read_and_their_failures_do_not_stop_it() -> (
    None
):
    runtime = KafkaRuntime(settings())
    ran: list[str] = []

    async def failing() -> None:
        ran.append("failing")
        raise ConnectionError("broker unreachable")

    async def broker_check() -> None:
        ran.append("broker check")

    runtime.check_on_assignment(failing)
    runtime.check_on_assignment(broker_check)
    await runtime.before_assignment()
    assert ran == ["failing", "broker check"]


def fetched(offset: int, number: int) -> ConsumerRecord[bytes, bytes]:
    value = f'{{"number": {number}}}'.encode()
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, b"show-1", value, None, 6, len(value), [])


async def test_a_fetch_that_repeats_records_hands_each_offset_once_in_order() -> None:
    recorder = Recorder()
    runtime, _ = runtime_with(recorder)
    (subscription,) = runtime.subscriptions
    await subscription.consume([fetched(0, 10), fetched(1, 11), fetched(1, 11), fetched(2, 12)])
    assert recorder.stored == [10, 11, 12]
    assert recorder.next_offsets == [3]


class StalledFirstCommit(AIOKafkaConsumer):  # type: ignore[misc]
    """A consumer whose first commit never answers (a broker gone quiet); later ones do."""

    def __init__(self) -> None:  # no client: only `commit` is used
        self.calls = 0
        self.committed: list[dict[TopicPartition, int]] = []
        self.first_sent = asyncio.Event()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.calls += 1
        if self.calls == 1:
            self.first_sent.set()
            await asyncio.Event().wait()
        self.committed.append(dict(offsets))


async def test_an_offset_copy_cut_off_by_shutdown_is_sent_with_the_last_one() -> None:
    runtime = KafkaRuntime(settings(consumer_offset_copy_seconds=0.01))
    subscription = runtime.subscriber(
        TOPIC, group="orders", decode=decode_order, offsets=from_the_start
    )(Recorder())
    consumer = StalledFirstCommit()
    subscription.faststream_subscriber = SimpleNamespace(consumer=consumer)
    first, second = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)

    subscription._queue_offset_copy(first, 5)
    async with asyncio.timeout(5):
        await consumer.first_sent.wait()
    subscription._queue_offset_copy(second, 3)
    await subscription.send_offset_copies_now()

    assert consumer.committed == [{first: 5, second: 3}]
