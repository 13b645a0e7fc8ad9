"""Dead letters on the real Kafka-protocol broker: listing, re-driving one chosen letter and
re-driving all pending ones, each letter sent back once whichever way it went."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from local_infra.session_infrastructure import Infrastructure
from service_kit.dead_letter_routes import RedriveRequest
from service_kit.dead_letters import (
    AlreadyRedrivenError,
    DeadLetterEntry,
    build_dead_letter,
    dead_letters_with_state,
    list_dead_letters,
    redrive_dead_letter,
    redrive_dead_letters,
)
from service_kit.errors import NotFoundError
from service_kit.kafka_topics import ensure_topics
from service_kit.settings import KafkaSettings
from ticketing_contracts import topics

pytestmark = pytest.mark.integration

GROUP = "kit-consumer"
OTHER_GROUP = "someone-else"


async def test_one_chosen_dead_letter_is_re_driven_once_and_all_pending_skip_it(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    settings = KafkaSettings(
        service_name="kit-test",
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_topic_prefix=f"{topic_prefix}dlt.",
    )
    dead_letter_topic = settings.topic(topics.DEAD_LETTERS)
    original = settings.topic("orders")
    await ensure_topics(
        settings.kafka_bootstrap_servers, [dead_letter_topic, original], partitions=1
    )
    # Dead-letter offsets 0..4: a, (another consumer's x), b, c, d.
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for offset, (group, value) in enumerate(
            [(GROUP, b"a"), (OTHER_GROUP, b"x"), (GROUP, b"b"), (GROUP, b"c"), (GROUP, b"d")]
        ):
            letter = build_dead_letter(
                topic=original,
                partition=0,
                offset=offset,
                key=value,
                value=value,
                headers=[("ce_id", value)],
                error="ValueError: bad",
                consumer_group=group,
            )
            await producer.send_and_wait(
                dead_letter_topic, letter.value, key=letter.key, headers=letter.headers
            )
    finally:
        await producer.stop()
    sent: list[tuple[str, bytes]] = []
    markers = []

    async def send(topic: str, key: bytes | None, value: bytes, headers: list) -> None:
        if topic == dead_letter_topic:
            markers.append(dict(headers)["dlt_redriven"])
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
            await producer.start()
            try:
                await producer.send_and_wait(topic, value, key=key, headers=headers)
            finally:
                await producer.stop()
            return
        assert dict(headers)["ce_id"] == value
        sent.append((topic, value))

    async def state() -> dict[str, bool]:
        letters = await dead_letters_with_state(settings, dead_letter_topic, GROUP)
        return {entry.value.decode(): redriven for entry, redriven in letters}

    listed = await list_dead_letters(settings, dead_letter_topic, consumer_group=GROUP)
    assert [(entry.letter_id, entry.value) for entry in listed] == [
        ("0@0", b"a"),
        ("0@2", b"b"),
        ("0@3", b"c"),
        ("0@4", b"d"),
    ]

    async def one(offset: int) -> DeadLetterEntry:
        return await redrive_dead_letter(
            settings, dead_letter_topic, send, consumer_group=GROUP, partition=0, offset=offset
        )

    assert (await one(3)).value == b"c"
    assert sent == [(original, b"c")]
    assert markers == [b"0@3"]
    assert await state() == {"a": False, "b": False, "c": True, "d": False}
    with pytest.raises(AlreadyRedrivenError):
        await one(3)
    for not_ours in (1, 99):
        with pytest.raises(NotFoundError):
            await one(not_ours)
    assert sent == [(original, b"c")]
    # The marker is no dead letter of anyone's.
    assert len(await list_dead_letters(settings, dead_letter_topic)) == 5

    everything = await redrive_dead_letters(settings, dead_letter_topic, send, consumer_group=GROUP)
    assert [entry.value for entry in everything] == [b"a", b"b", b"d"]
    assert [value for _, value in sent] == [b"c", b"a", b"b", b"d"]
    assert await state() == {"a": True, "b": True, "c": True, "d": True}
    with pytest.raises(AlreadyRedrivenError):
        await one(2)
    assert await redrive_dead_letters(settings, dead_letter_topic, send, consumer_group=GROUP) == []


def test_a_re_drive_request_names_one_dead_letter_or_a_limit() -> None:
    assert RedriveRequest(dead_letter="3@1041").target() == (3, 1041)
    assert RedriveRequest(limit=2).target() is None
    for invalid in ({"dead_letter": "3@1041", "limit": 1}, {"dead_letter": "3:1041"}):
        with pytest.raises(ValidationError):
            RedriveRequest.model_validate(invalid)
