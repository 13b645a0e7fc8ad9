from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker, KafkaMessage

from local_infra.broker import create_topics
from local_infra.session_infrastructure import Infrastructure

pytestmark = pytest.mark.integration

# A bound, not a wait: generous for a group join on a busy 2-core CI machine.
DELIVERY_BUDGET_SECONDS = 60.0


async def test_key_and_headers_reach_a_faststream_subscriber_intact(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    bootstrap_servers = infrastructure.kafka_bootstrap_servers
    topic = f"{topic_prefix}shows"
    await create_topics(bootstrap_servers, [topic], partitions=3)
    received: asyncio.Future[KafkaMessage] = asyncio.get_running_loop().create_future()
    subscriber_broker = KafkaBroker(bootstrap_servers)

    @subscriber_broker.subscriber(topic, group_id="local-infra-test", auto_offset_reset="earliest")
    async def on_show(body: dict[str, int], message: KafkaMessage) -> None:
        if not received.done():
            received.set_result(message)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            b'{"seats": 2}',
            key=b"show-42",
            headers=[("ce_type", b"booking.requested.v1"), ("ce_id", b"evt-1")],
        )
    finally:
        await producer.stop()

    await subscriber_broker.start()
    try:
        message = await asyncio.wait_for(received, DELIVERY_BUDGET_SECONDS)
    finally:
        await subscriber_broker.stop()

    record = message.raw_message
    assert not isinstance(record, tuple), "a single subscriber gets one record, not a batch"
    assert record.key == b"show-42"
    assert message.headers["ce_type"] == "booking.requested.v1"
    assert message.headers["ce_id"] == "evt-1"
    assert await message.decode() == {"seats": 2}
