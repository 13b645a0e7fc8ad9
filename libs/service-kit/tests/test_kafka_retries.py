"""Transient failures are waited out, keeping the position, and never dead-lettered (on
faststream's in-memory TestKafkaBroker)."""

from __future__ import annotations

import asyncpg
import pybreaker
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import TestKafkaBroker

from service_kit.kafka.messages import PartitionBatch
from service_kit.kafka.retries import is_transient
from service_kit.kafka.runtime import KafkaRuntime
from ticketing_contracts.events import ContractViolation

from .order_subscriber import (
    GROUP,
    TOPIC,
    Order,
    Recorder,
    decode_order,
    from_the_start,
    publish,
    runtime_with,
    settings,
)


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
    runtime.subscriber(TOPIC, group=GROUP, decode=decode_order, offsets=from_the_start)(guarded)
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, b'{"number": 5}')
    assert recorder.stored == [5]


def test_an_unavailable_database_or_broker_is_transient_and_a_bad_message_is_not() -> None:
    assert is_transient(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert is_transient(asyncpg.SerializationError("could not serialize access"))
    assert is_transient(KafkaConnectionError())
    assert is_transient(TimeoutError())
    assert not is_transient(ContractViolation("number: must be an integer"))
    assert not is_transient(ValueError("value too long for type character varying(10)"))
