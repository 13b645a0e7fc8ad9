"""The Kafka runtime as a service uses it, on faststream's in-memory TestKafkaBroker."""

from __future__ import annotations

import pytest
from faststream.kafka import TestKafkaBroker

from service_kit.asyncapi_commands import asyncapi_document
from service_kit.kafka.runtime import KafkaRuntime

from .order_subscriber import TOPIC, Recorder, publish, runtime_with, settings


async def test_hands_decoded_messages_to_the_subscriber_with_the_offset_to_store() -> None:
    recorder = Recorder()
    runtime, dead_letters = runtime_with(recorder)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 7}')
    assert recorder.stored == [7]
    assert recorder.next_offsets == [1]
    assert dead_letters == []


def test_asyncapi_document_lists_subscribers_publishers_and_the_dead_letter_topic() -> None:
    runtime, _ = runtime_with(Recorder())
    runtime.publisher("orders.out", message_type=bytes, description="Order outcomes")
    document = asyncapi_document(runtime, title="orders-service", description="Orders")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {TOPIC, "orders.out", runtime.dead_letter_topic} <= addresses
    operations = {operation["action"] for operation in document["operations"].values()}
    assert operations == {"receive", "send"}


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
