"""An orders subscriber on the kit's runtime, as a service would write one, for the runtime's
tests on faststream's in-memory TestKafkaBroker."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from service_kit.kafka.messages import PartitionBatch
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.settings import KafkaSettings
from ticketing_contracts.events import ContractViolation

TOPIC = "orders"
GROUP = "orders"


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


def runtime_with(
    recorder: Recorder, **overrides: Any
) -> tuple[KafkaRuntime, list[ConsumerRecord[Any, Any]]]:
    """The runtime with `recorder` subscribed to orders, and the dead letters it sends."""
    runtime = KafkaRuntime(settings(**overrides))
    runtime.subscriber(TOPIC, group=GROUP, decode=decode_order, offsets=from_the_start)(recorder)
    dead_letters: list[ConsumerRecord[Any, Any]] = []

    async def raw_record(message: Any) -> Any:
        return message.raw_message

    @runtime.broker.subscriber(runtime.dead_letter_topic, decoder=raw_record)
    async def collect(record: Any) -> None:
        dead_letters.append(record)

    return runtime, dead_letters


async def publish(broker: Any, value: bytes, **headers: str) -> None:
    await broker.publish(value, TOPIC, key=b"show-1", headers=headers)


def fetched(offset: int, number: int) -> ConsumerRecord[bytes, bytes]:
    """A record of the orders topic as a fetch hands it over."""
    value = f'{{"number": {number}}}'.encode()
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, b"show-1", value, None, 6, len(value), [])
