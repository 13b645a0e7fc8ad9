"""The Kafka subscribers on faststream's in-memory broker, with the use case on fakes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from faststream.kafka import TestKafkaBroker

from inventory.application.errors import CatalogNotCaughtUp, ConcurrencyConflict
from inventory.application.messages import DecodedMessage, MessagePosition
from inventory.application.process_batch import BatchResult, ProcessMessageBatch
from inventory.entrypoints.subscribers import SubscriberDependencies, is_transient, subscribe
from inventory.settings import InventorySettings
from service_kit.circuit_breakers import CircuitBreakerError, create_breaker
from service_kit.internal_auth import generate_key_pair
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.messaging import envelope_headers
from ticketing_contracts import events as public
from ticketing_contracts import headers as ce
from ticketing_contracts import topics

from .fakes import FakeCatalog, FakeStore, FakeUnitOfWork
from .test_process_batch import EVENT, TICKETS, catalog, request

SETTINGS = InventorySettings(
    environment="test",
    internal_token_public_key=generate_key_pair()[1],
    consumer_retry_initial_seconds=0.001,
    consumer_retry_max_seconds=0.002,
)
BOOKINGS = SETTINGS.topic(topics.BOOKING_EVENTS)
CATALOG = SETTINGS.topic(topics.CATALOG_EVENTS)
OUTCOMES = SETTINGS.topic(topics.INVENTORY_EVENTS)


async def from_the_start(partitions: Collection[TopicPartition]) -> Mapping[TopicPartition, int]:
    return {}


class FailingFirst:
    """The use case, failing the first `times` calls with `error`."""

    def __init__(self, use_case: ProcessMessageBatch, error: Exception, times: int) -> None:
        self.use_case = use_case
        self.error = error
        self.times = times

    async def __call__(
        self,
        messages: Sequence[DecodedMessage],
        *,
        next_offset: MessagePosition,
        continues_from: int | None = None,
    ) -> BatchResult:
        if self.times:
            self.times -= 1
            raise self.error
        return await self.use_case(messages, next_offset=next_offset, continues_from=continues_from)


class Inventory:
    """The subscribers wired to a fake store, plus what went to the dead-letter topic."""

    def __init__(self, *, fail_first: Exception | None = None, times: int = 0) -> None:
        self.store = FakeStore()
        self.use_case = ProcessMessageBatch(
            lambda: FakeUnitOfWork(self.store),
            FakeCatalog(),
            outcome_topic=OUTCOMES,
            producer="inventory",
        )
        self.decide = FailingFirst(self.use_case, fail_first or RuntimeError(), times)
        self.breaker = create_breaker("postgres_test", fail_max=100, reset_timeout_seconds=60)
        self.relay_wakes = 0
        self.runtime = KafkaRuntime(SETTINGS, is_transient=is_transient)
        subscribe(
            self.runtime,
            SETTINGS,
            SubscriberDependencies(self.decide, self.breaker, self.wake_relay),
            from_the_start,
        )
        self.dead_letters: list[Any] = []
        self.partitions = 0

        async def raw_record(message: Any) -> Any:
            return message.raw_message

        @self.runtime.broker.subscriber(self.runtime.dead_letter_topic, decoder=raw_record)
        async def collect(record: Any) -> None:
            self.dead_letters.append(record)

    def wake_relay(self) -> None:
        self.relay_wakes += 1

    async def publish(self, broker: Any, value: bytes, topic: str, **headers: str) -> None:
        # Every record is at offset 0 in memory: a partition each keeps positions apart.
        self.partitions += 1
        await broker.publish(
            value, topic, key=str(EVENT).encode(), partition=self.partitions, headers=headers
        )

    async def publish_event(self, broker: Any, event: public.PublicEvent, topic: str) -> None:
        envelope = event.to_envelope(correlation_id="corr-1", producer="test")
        headers = {name: value.decode() for name, value in envelope_headers(envelope)}
        await self.publish(broker, public.encode_envelope(envelope), topic, **headers)

    def outcomes(self) -> list[public.PublicEvent]:
        return [public.decode_message(m.value)[1] for m in self.store.outbox if m.topic == OUTCOMES]


async def test_a_booking_request_reserves_tickets_and_wakes_the_relay() -> None:
    inventory = Inventory()
    async with TestKafkaBroker(inventory.runtime.broker) as broker:
        for event in catalog(5):
            await inventory.publish_event(broker, event, CATALOG)
        await inventory.publish_event(broker, request(2), BOOKINGS)
    stock = [e for e in inventory.outcomes() if isinstance(e, public.StockChanged)]
    assert [(e.stock.reserved, e.stock.available) for e in stock] == [(0, 5), (2, 3)]
    assert inventory.store.shows[EVENT].ticket_types[TICKETS].reserved == 2
    assert inventory.store.next_offsets[(BOOKINGS, 3)] == 1
    assert inventory.relay_wakes == 3
    assert inventory.dead_letters == []


async def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_next_is_processed() -> None:
    inventory = Inventory()
    async with TestKafkaBroker(inventory.runtime.broker) as broker:
        for event in catalog(5):
            await inventory.publish_event(broker, event, CATALOG)
        await inventory.publish(broker, b"{not json", BOOKINGS, correlation_id="corr-poison")
        await inventory.publish_event(broker, request(1), BOOKINGS)
    [letter] = inventory.dead_letters
    headers = dict(letter.headers)
    assert letter.value == b"{not json"
    assert headers[ce.DEAD_LETTER_ORIGINAL_TOPIC] == BOOKINGS.encode()
    assert b"UndecodableMessage" in headers[ce.DEAD_LETTER_ERROR]
    assert headers[ce.DEAD_LETTER_CONSUMER_GROUP] == b"inventory"
    assert inventory.store.next_offsets[(BOOKINGS, 3)] == 1, "the poison's partition moves on"
    assert inventory.store.shows[EVENT].ticket_types[TICKETS].reserved == 1


@pytest.mark.parametrize(
    "error",
    [
        ConcurrencyConflict("a show changed since this batch read it"),
        CatalogNotCaughtUp("catalog still behind"),
        CircuitBreakerError("postgres breaker is open"),
        ConnectionError("connection lost"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_retryable_failure_is_retried_not_dead_lettered(error: Exception) -> None:
    inventory = Inventory(fail_first=error, times=SETTINGS.consumer_max_failures + 2)
    async with TestKafkaBroker(inventory.runtime.broker) as broker:
        for event in catalog(5):
            await inventory.publish_event(broker, event, CATALOG)
        await inventory.publish_event(broker, request(1), BOOKINGS)
    assert inventory.dead_letters == []
    assert inventory.store.shows[EVENT].ticket_types[TICKETS].reserved == 1


async def test_a_message_that_keeps_failing_is_dead_lettered_after_max_failures() -> None:
    # It fails as a batch, then alone max_failures times.
    inventory = Inventory(fail_first=ValueError("bug"), times=1 + SETTINGS.consumer_max_failures)
    async with TestKafkaBroker(inventory.runtime.broker) as broker:
        await inventory.publish_event(broker, catalog(5)[0], CATALOG)
    [letter] = inventory.dead_letters
    assert b"ValueError: bug" in dict(letter.headers)[ce.DEAD_LETTER_ERROR]
    assert inventory.store.next_offsets[(CATALOG, 1)] == 1
    assert EVENT not in inventory.store.shows, "the show was never created"
