"""The two Kafka consumers: bookings in the `inventory` group, the catalog read by all."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from inventory.adapters.postgres_repository import InventoryQueries
from service_kit.settings import KafkaSettings


def booking_consumer(
    settings: KafkaSettings, topic: str, *, group_id: str, max_records: int
) -> AIOKafkaConsumer:
    """Group member; offsets are committed by hand after the batch's transaction."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        client_id=f"{settings.service_name}-bookings",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
    )


def catalog_consumer(settings: KafkaSettings) -> AIOKafkaConsumer:
    """Not in a group: every replica reads every catalog partition (see catalog_progress)."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        client_id=f"{settings.service_name}-catalog",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def assign_from_database(
    consumer: AIOKafkaConsumer, topic: str, queries: InventoryQueries, wait_seconds: float = 10.0
) -> list[TopicPartition]:
    """Assigns every partition of `topic`, positioned after what the database applied."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    partition_ids: set[int] = set()
    while not partition_ids:
        await consumer.topics()
        partition_ids = set(consumer.partitions_for_topic(topic) or ())
        if not partition_ids:
            if loop.time() > deadline:
                raise RuntimeError(f"topic {topic} has no partitions")
            await asyncio.sleep(0.1)
    partitions = [TopicPartition(topic, partition) for partition in sorted(partition_ids)]
    consumer.assign(partitions)
    applied = await queries.next_offsets(topic)
    for tp in partitions:
        if tp.partition in applied:
            consumer.seek(tp, applied[tp.partition])
        else:
            await consumer.seek_to_beginning(tp)
    return partitions
