"""A replay reads every record the topic holds when it starts, however the producer batched
them, then stops; read again, it continues with what came since."""

from __future__ import annotations

import pytest

from local_infra.session_infrastructure import Infrastructure
from service_kit.kafka.messages import OutboundMessage, PartitionBatch
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka_topics import ensure_topics
from service_kit.settings import KafkaSettings
from service_kit.topic_replay import TopicReplay
from ticketing_contracts import topics

pytestmark = pytest.mark.integration


async def test_a_replay_reads_records_sent_in_multi_record_batches_to_the_end_and_stops(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    settings = KafkaSettings(
        service_name="kit-test",
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_topic_prefix=f"{topic_prefix}kit-replay.",
    )
    topic = settings.topic("orders")
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        [topic, settings.topic(topics.DEAD_LETTERS)],
        partitions=2,
    )
    kafka = KafkaRuntime(settings)

    async def send(values: list[bytes]) -> None:
        await kafka.publish(
            [
                OutboundMessage(topic, f"show-{n % 5}".encode(), value, [])
                for n, value in enumerate(values)
            ]
        )

    read: list[bytes] = []

    async def collect(batch: PartitionBatch[bytes]) -> None:
        read.extend(message.body for message in batch.messages)

    await kafka.start()
    try:
        # Sent together, they leave the producer in batches of many records each.
        await send([f"m{n}".encode() for n in range(300)])
        async with TopicReplay(settings, [topic], decode=bytes, poll_timeout_ms=200) as replay:
            assert await replay.read_to_end(collect) == 300
            assert sorted(read) == sorted(f"m{n}".encode() for n in range(300))

            await send([b"later-0", b"later-1"])
            assert await replay.read_to_end(collect) == 2
    finally:
        await kafka.stop()
    assert len(read) == 302
