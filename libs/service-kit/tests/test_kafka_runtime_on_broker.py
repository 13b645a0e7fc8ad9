"""The consumer runtime on the real Kafka broker: positions come from the service, and Kafka
gets a copy of them for tooling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from local_infra.session_infrastructure import Infrastructure
from local_infra.waiting import poll_until
from service_kit.broker_epoch import BrokerChanged, BrokerRecovery
from service_kit.kafka.messages import OutboundMessage, PartitionBatch
from service_kit.kafka.positions import OffsetsMoved
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka_topics import ensure_topics
from service_kit.settings import KafkaSettings
from ticketing_contracts import topics

pytestmark = pytest.mark.integration


class ServiceDatabase:
    """Stands in for a service's tables: what was applied and the offsets stored with it."""

    def __init__(self) -> None:
        self.applied: list[bytes] = []
        self.next_offsets: dict[TopicPartition, int] = {}
        self.changed = asyncio.Condition()

    async def stored_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        return {tp: self.next_offsets[tp] for tp in partitions if tp in self.next_offsets}

    async def apply(self, batch: PartitionBatch[bytes]) -> None:
        async with self.changed:
            self.applied.extend(message.body for message in batch.messages)
            self.next_offsets[batch.topic_partition] = batch.next_offset
            self.changed.notify_all()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(60), self.changed:
            await self.changed.wait_for(lambda: len(self.applied) >= count)


async def one_partition_topic(
    infrastructure: Infrastructure, prefix: str, **settings: Any
) -> tuple[KafkaSettings, str]:
    """A kit test's settings and its one-partition topic (with its dead-letter topic)."""
    kafka = KafkaSettings(
        service_name="kit-test",
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_topic_prefix=prefix,
        **settings,
    )
    topic = kafka.topic("positions")
    await ensure_topics(
        kafka.kafka_bootstrap_servers, [topic, kafka.topic(topics.DEAD_LETTERS)], partitions=1
    )
    return kafka, topic


async def test_a_restarted_consumer_continues_where_the_database_says_not_where_kafka_says(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    settings, topic = await one_partition_topic(infrastructure, f"{topic_prefix}kit.")
    database = ServiceDatabase()

    def runtime() -> KafkaRuntime:
        kafka = KafkaRuntime(settings)
        kafka.subscriber(
            topic,
            group=settings.group_id("positions"),
            decode=bytes,
            offsets=database.stored_offsets,
        )(database.apply)
        return kafka

    async def send(values: list[bytes]) -> None:
        await first.publish([OutboundMessage(topic, b"show", value, []) for value in values])

    first = runtime()
    await first.start()
    try:
        await send([b"m0", b"m1", b"m2"])
        await database.wait_for(3)
        await send([b"m3", b"m4"])
        await database.wait_for(5)
    finally:
        await first.stop()
    assert database.applied == [b"m0", b"m1", b"m2", b"m3", b"m4"]

    # The service's database is the truth: it says m3 and m4 were not applied after all
    # (say, restored from a backup), while Kafka's committed copy says they were.
    database.next_offsets[TopicPartition(topic, 0)] = 3
    database.applied = database.applied[:3]
    second = runtime()
    await second.start()
    try:
        await database.wait_for(5)
    finally:
        await second.stop()
    assert database.applied == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert database.next_offsets[TopicPartition(topic, 0)] == 5


async def test_a_message_with_a_header_that_is_not_utf8_is_handled_not_lost(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    settings, topic = await one_partition_topic(infrastructure, f"{topic_prefix}kit-headers.")
    database = ServiceDatabase()
    kafka = KafkaRuntime(settings)
    kafka.subscriber(
        topic, group=settings.group_id("positions"), decode=bytes, offsets=database.stored_offsets
    )(database.apply)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"m0", key=b"show", headers=[("note", b"\xff\xfe")])
        await producer.send_and_wait(topic, b"m1", key=b"show")
    finally:
        await producer.stop()
    await kafka.start()
    try:
        await database.wait_for(2)
    finally:
        await kafka.stop()
    assert database.applied == [b"m0", b"m1"]
    assert database.next_offsets[TopicPartition(topic, 0)] == 2


class EpochOfAnotherCluster:
    """A service whose stored positions belong to a broker that was replaced."""

    def __init__(self) -> None:
        self.stored = "the-cluster-that-was-lost"

    async def stored_cluster_id(self) -> str | None:
        return self.stored

    async def record_cluster_id(self, cluster_id: str) -> None:
        self.stored = cluster_id

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        self.stored = cluster_id
        return BrokerRecovery(republished="nothing", dropped_offsets="nothing")


async def test_a_runtime_publishes_nothing_to_a_broker_its_service_has_not_adopted(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    settings, topic = await one_partition_topic(infrastructure, f"{topic_prefix}kit-epoch.")
    epoch = EpochOfAnotherCluster()
    kafka = KafkaRuntime(settings)
    await kafka.start()
    try:
        cluster_id = await kafka.cluster_id()
        kafka.watch_broker(epoch)
        with pytest.raises(BrokerChanged):
            await kafka.publish([OutboundMessage(topic, b"show", b"too-early", [])])
        assert await end_offset(settings, topic) == 0

        async def adopted() -> bool:
            return epoch.stored == cluster_id

        assert await poll_until(adopted, wait_seconds=30), "the refused publish has it recover"
        await kafka.publish([OutboundMessage(topic, b"show", b"after-recovery", [])])
    finally:
        await kafka.stop()
    assert await end_offset(settings, topic) == 1


async def end_offset(settings: KafkaSettings, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        return (await consumer.end_offsets([partition]))[partition]
    finally:
        await consumer.stop()


class ErrorSignal(logging.Handler):
    def __init__(self, event: asyncio.Event) -> None:
        super().__init__(logging.ERROR)
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        self.event.set()


async def test_a_stored_position_past_the_log_end_is_refused_loudly_not_skipped_to(
    infrastructure: Infrastructure, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings, topic = await one_partition_topic(infrastructure, f"{topic_prefix}kit-lost.")
    partition = TopicPartition(topic, 0)
    database = ServiceDatabase()
    # Positions of a broker that is gone: the new topic holds nothing yet.
    database.next_offsets[partition] = 40
    kafka = KafkaRuntime(settings)
    subscription = kafka.subscriber(
        topic, group=settings.group_id("positions"), decode=bytes, offsets=database.stored_offsets
    )(database.apply)
    refused = asyncio.Event()
    on_error = ErrorSignal(refused)
    logging.getLogger("service_kit.kafka.positions").addHandler(on_error)
    await kafka.start()
    try:
        async with asyncio.timeout(60):
            await subscription.assigned.wait()
        await kafka.publish([OutboundMessage(topic, b"show", b"new-0", [])])
        async with asyncio.timeout(30):
            await refused.wait()
    finally:
        logging.getLogger("service_kit.kafka.positions").removeHandler(on_error)
        await kafka.stop()

    assert subscription.beyond_log_end == {partition}
    # Only the refusal: a new broker's "coordinator not available" from aiokafka is not ours.
    errors = [
        record.getMessage()
        for record in caplog.records
        if record.levelname == "ERROR" and record.name == "service_kit.kafka.positions"
    ]
    assert len(errors) == 1
    assert "stored position is 40" in errors[0]
    assert database.applied == []
    assert database.next_offsets[partition] == 40


class FencedDatabase(ServiceDatabase):
    """Refuses a batch read from a position other than the stored one, as services do."""

    async def apply(self, batch: PartitionBatch[bytes]) -> None:
        if b"poison" in [message.body for message in batch.messages]:
            raise ValueError("this message can never be applied")
        if not batch.continues(self.next_offsets.get(batch.topic_partition)):
            raise OffsetsMoved(f"stored {self.next_offsets.get(batch.topic_partition)}")
        await super().apply(batch)


async def test_a_batch_read_at_positions_reset_under_it_is_refused_and_read_again_from_the_reset(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    settings, topic = await one_partition_topic(
        infrastructure, f"{topic_prefix}kit-fence.", consumer_max_failures=1
    )
    partition = TopicPartition(topic, 0)
    database = FencedDatabase()
    kafka = KafkaRuntime(settings)
    kafka.subscriber(
        topic, group=settings.group_id("positions"), decode=bytes, offsets=database.stored_offsets
    )(database.apply)

    async def send(values: list[bytes]) -> None:
        await kafka.publish([OutboundMessage(topic, b"show", value, []) for value in values])

    await kafka.start()
    try:
        # A poison message in the middle goes to the dead letters; the positions stay in step.
        await send([b"m0", b"poison", b"m2"])
        await database.wait_for(2)
        assert database.next_offsets[partition] == 3
        # Another replica (or a broker recovery) resets the stored position while this
        # consumer still holds 3 in memory: its next batch must not store 4 over the reset.
        database.next_offsets[partition] = 0
        await send([b"m3"])
        await database.wait_for(5)
    finally:
        await kafka.stop()

    assert database.applied == [b"m0", b"m2", b"m0", b"m2", b"m3"]
    assert database.next_offsets[partition] == 4


@dataclass
class HandledMessages:
    """A consumer that has handled `count` keyed messages spread over two partitions."""

    bootstrap: str
    database: ServiceDatabase
    topic: str
    group: str

    async def kafka_copy(self) -> dict[TopicPartition, int]:
        """What lag tooling reads: the group's committed offsets (read without joining)."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
        )
        await reader.start()
        try:
            copy: dict[TopicPartition, int] = {}
            for partition in range(2):
                tp = TopicPartition(self.topic, partition)
                committed = await reader.committed(tp)
                if committed is not None:
                    copy[tp] = committed
            return copy
        finally:
            await reader.stop()


@asynccontextmanager
async def handled_messages(
    infrastructure: Infrastructure, topic_prefix: str, *, copy_seconds: float, count: int
) -> AsyncIterator[HandledMessages]:
    """Starts a consumer, feeds it `count` messages and waits until it handled them; stops
    it on the way out."""
    settings = KafkaSettings(
        service_name="kit-test",
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_topic_prefix=f"{topic_prefix}kit-copy-{copy_seconds:g}.",
        consumer_offset_copy_seconds=copy_seconds,
    )
    topic = settings.topic("positions")
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        [topic, settings.topic(topics.DEAD_LETTERS)],
        partitions=2,
    )
    database = ServiceDatabase()
    kafka = KafkaRuntime(settings)
    group = settings.group_id("positions")
    kafka.subscriber(topic, group=group, decode=bytes, offsets=database.stored_offsets)(
        database.apply
    )
    await kafka.start()
    try:
        await kafka.publish(
            [OutboundMessage(topic, f"k{n}".encode(), f"m{n}".encode(), []) for n in range(count)]
        )
        await database.wait_for(count)
        yield HandledMessages(settings.kafka_bootstrap_servers, database, topic, group)
    finally:
        await kafka.stop()


async def test_lag_tooling_sees_the_handled_positions_in_kafka_within_the_copy_interval(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    async with handled_messages(
        infrastructure, topic_prefix, copy_seconds=0.2, count=8
    ) as consumer:

        async def kafka_has_the_copy() -> bool:
            return await consumer.kafka_copy() == consumer.database.next_offsets

        assert await poll_until(kafka_has_the_copy, wait_seconds=15, interval=0.1)
    assert sum(consumer.database.next_offsets.values()) == 8


async def test_a_stopping_consumer_leaves_kafka_its_last_positions(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    # The interval is far longer than the test: only the copy sent on stop can show them.
    async with handled_messages(infrastructure, topic_prefix, copy_seconds=60, count=5) as consumer:
        pass
    copy = await consumer.kafka_copy()
    assert copy == consumer.database.next_offsets
    assert sum(copy.values()) == 5


class StuckDatabase(ServiceDatabase):
    """Takes a batch and does not finish it until released: a consumer stuck in a batch."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def apply(self, batch: PartitionBatch[bytes]) -> None:
        self.holding.set()
        await self.release.wait()
        await super().apply(batch)


def consumer_lag(tp: TopicPartition) -> float | None:
    return REGISTRY.get_sample_value(
        "kafka_consumer_lag", {"topic": tp.topic, "partition": str(tp.partition)}
    )


async def test_the_lag_metric_counts_what_a_consumer_stuck_in_a_batch_has_not_handled(
    infrastructure: Infrastructure, topic_prefix: str
) -> None:
    settings, topic = await one_partition_topic(
        infrastructure, f"{topic_prefix}kit-lag.", consumer_lag_check_seconds=0.2
    )
    partition = TopicPartition(topic, 0)
    database = StuckDatabase()
    kafka = KafkaRuntime(settings)
    subscription = kafka.subscriber(
        topic, group=settings.group_id("positions"), decode=bytes, offsets=database.stored_offsets
    )(database.apply)

    async def lag_is(expected: float) -> bool:
        return consumer_lag(partition) == expected

    await kafka.start()
    try:
        async with asyncio.timeout(60):
            await subscription.assigned.wait()
        await kafka.publish([OutboundMessage(topic, b"show", b"first", [])])
        async with asyncio.timeout(30):
            await database.holding.wait()
        await kafka.publish([OutboundMessage(topic, b"show", b"m%d" % n, []) for n in range(5)])

        # Nothing handled yet: the first batch never finished, six messages wait.
        assert await poll_until(lambda: lag_is(6), wait_seconds=30), consumer_lag(partition)

        database.release.set()
        await database.wait_for(6)
        assert await poll_until(lambda: lag_is(0), wait_seconds=30), consumer_lag(partition)
    finally:
        database.release.set()
        await kafka.stop()
