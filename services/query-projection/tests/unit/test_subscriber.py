"""The projection's subscriber on faststream's in-memory TestKafkaBroker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from query_projection.application.apply_batch import BatchResult
from query_projection.application.messages import ProjectedBatch
from query_projection.application.ports import ReadModelSwitched
from query_projection.application.waiting import ProgressSignal
from query_projection.domain.positions import PartitionProgress
from query_projection.entrypoints.subscribers import subscribe_projection
from query_projection.settings import QueryProjectionSettings
from service_kit.internal_auth import generate_key_pair
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.messaging import envelope_headers, header_map
from ticketing_contracts import headers as ce
from ticketing_contracts.events import encode_envelope


class Generations:
    """The store as the subscriber sees it: the active generation and its offsets."""

    def __init__(self) -> None:
        self.active = 1

    async def active_generation(self) -> int:
        return self.active

    async def progress(self, topics: Any, generation: int | None = None) -> list[Any]:
        return []


class RecordingApply:
    """Stands in for ApplyBatch: records batches, refusing the venue names it is told to."""

    def __init__(self, store: Generations, *, refuse: set[str] = frozenset()) -> None:
        self.store = store
        self.refuse = refuse
        self.applied: list[tuple[int, str, int]] = []
        self.next_offsets: list[tuple[int, int]] = []

    async def __call__(self, batch: ProjectedBatch, *, generation: int) -> BatchResult:
        if generation != self.store.active:
            raise ReadModelSwitched(self.store.active)
        names = [message.body[1].model_dump().get("name", "") for message in batch.messages]
        if self.refuse & set(names):
            raise ValueError("invalid byte sequence for encoding UTF8: 0x00")
        self.applied.extend((generation, name, batch.next_offset) for name in names)
        self.next_offsets.append((generation, batch.next_offset))
        progress = PartitionProgress(batch.topic, batch.partition, batch.next_offset, None, None)
        return BatchResult(generation, progress, applied=len(names), duplicates=0)


def wired(**apply_options: Any) -> tuple[KafkaRuntime, QueryProjectionSettings, Any, list[Any]]:
    settings = QueryProjectionSettings(
        environment="test",
        internal_token_public_key=generate_key_pair()[1],
        consumer_retry_initial_seconds=0.001,
        consumer_retry_max_seconds=0.002,
    )
    runtime = KafkaRuntime(settings)
    store = Generations()
    apply = RecordingApply(store, **apply_options)
    subscribe_projection(runtime, settings, lambda: (apply, store), ProgressSignal())  # type: ignore[arg-type,return-value]
    dead_letters: list[Any] = []

    async def whole_message(message: Any) -> Any:
        return message

    @runtime.broker.subscriber(runtime.dead_letter_topic, decoder=whole_message)
    async def collect(message: Any) -> None:
        dead_letters.append(message)

    return runtime, settings, apply, dead_letters


async def publish(broker: Any, topic: str, envelope: Any, value: bytes | None = None) -> None:
    await broker.publish(
        value if value is not None else encode_envelope(envelope),
        topic,
        key=str(envelope.subject).encode(),
        headers=header_map(envelope_headers(envelope)),
    )


async def test_applies_events_and_records_the_next_offset_for_the_active_generation(scenario):
    runtime, settings, apply, dead_letters = wired()
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, settings.catalog_topic, scenario.venue_created(name="Royal Hall"))
    assert apply.applied == [(1, "Royal Hall", 1)]
    assert dead_letters == []


def with_field(envelope: Any, **changes: Any) -> bytes:
    data = json.loads(encode_envelope(envelope))
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("value_of", "error"),
    [
        (lambda venue: with_field(venue, correlation_id="req\x00-1"), "ContractViolation"),
        (lambda venue: b"{broken", "UndecodableMessage"),
        (lambda venue: with_field(venue, type="venue.renamed"), "UnknownEventType"),
        (lambda venue: with_field(venue, aggregate_version=None), "UnversionedEvent"),
    ],
    ids=["nul-in-correlation-id", "not-json", "unknown-type", "catalog-event-without-version"],
)
async def test_a_message_that_can_never_be_applied_is_dead_lettered_and_its_offset_recorded(
    scenario, value_of, error
):
    runtime, settings, apply, dead_letters = wired()
    venue = scenario.venue_created()
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, settings.catalog_topic, venue, value_of(venue))
    [letter] = dead_letters
    assert letter.headers[ce.DEAD_LETTER_ERROR].startswith(error)
    assert letter.headers[ce.DEAD_LETTER_ORIGINAL_TOPIC] == settings.catalog_topic
    assert letter.headers[ce.DEAD_LETTER_CONSUMER_GROUP] == "query-projection"
    assert apply.applied == []
    assert apply.next_offsets == [(1, 1)], "the partition moves past it"


async def test_a_message_that_keeps_failing_in_the_database_is_dead_lettered_and_the_rest_applied(
    scenario,
):
    runtime, settings, apply, dead_letters = wired(refuse={"Poison Hall"})
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, settings.catalog_topic, scenario.venue_created(name="Poison Hall"))
        await publish(broker, settings.catalog_topic, scenario.venue_created(name="Royal Hall"))
    [letter] = dead_letters
    assert "invalid byte sequence" in letter.headers[ce.DEAD_LETTER_ERROR]
    assert [name for _, name, _ in apply.applied] == ["Royal Hall"]


async def test_a_read_model_switch_continues_on_the_new_generation(scenario):
    runtime, settings, apply, _ = wired()
    async with TestKafkaBroker(runtime.broker) as broker:
        await publish(broker, settings.catalog_topic, scenario.venue_created(name="Before"))
        apply.store.active = 2
        await publish(broker, settings.catalog_topic, scenario.venue_created(name="Switching"))
        await publish(broker, settings.catalog_topic, scenario.venue_created(name="After"))
    assert [(generation, name) for generation, name, _ in apply.applied] == [
        (1, "Before"),
        (2, "After"),
    ]
