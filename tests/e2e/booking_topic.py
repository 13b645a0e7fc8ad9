"""Reading the public booking topic as a downstream consumer: with `libs/contracts` only."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ticketing_contracts import headers as ce
from ticketing_contracts import topics
from ticketing_contracts.events import decode_message


@dataclass(frozen=True)
class Published:
    """One decoded message of the booking topic."""

    booking_id: str
    type: str
    event_id: str
    correlation_header: str | None
    correlation_id: str
    partition: int
    offset: int
    # The payment a confirmation or a refund names (None for other facts).
    provider_reference: str | None = None


def booking_topic(topic_prefix: str) -> str:
    return topics.prefixed(topic_prefix, topics.BOOKING_EVENTS)


def decode(record: object) -> Published:
    value: bytes = getattr(record, "value")  # noqa: B009
    envelope, event = decode_message(value)
    headers = {key: raw.decode() for key, raw in (getattr(record, "headers", None) or ())}
    return Published(
        booking_id=str(getattr(event, "booking_id", envelope.subject)),
        type=envelope.type,
        event_id=str(envelope.event_id),
        correlation_header=headers.get(ce.CORRELATION_ID),
        correlation_id=envelope.correlation_id,
        partition=getattr(record, "partition"),  # noqa: B009
        offset=getattr(record, "offset"),  # noqa: B009
        provider_reference=getattr(event, "provider_reference", None),
    )


def by_booking(messages: list[Published]) -> dict[str, list[Published]]:
    grouped: dict[str, list[Published]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        grouped[message.booking_id].append(message)
    return dict(grouped)


async def read_whole_topic(
    bootstrap_servers: str, topic: str, within: float = 60
) -> list[Published]:
    """Everything on `topic` up to its current end, read without a consumer group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])
    assert partitions, f"topic {topic} has no partitions"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        messages: list[Published] = []
        deadline = time.monotonic() + within
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batches.values():
                messages.extend(decode(record) for record in records)
        return messages
    finally:
        await consumer.stop()
