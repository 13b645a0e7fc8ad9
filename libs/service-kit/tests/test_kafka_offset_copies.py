"""Kafka's copy of the positions (for lag tooling) is sent at most once per interval and once
more on stop; a copy that was cut off goes out with the next one."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from service_kit.kafka.offset_copies import OffsetCopies

from .order_subscriber import TOPIC

FIRST, SECOND = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class StalledFirstCommit(AIOKafkaConsumer):  # type: ignore[misc]
    """A consumer whose first commit never answers (a broker gone quiet); later ones do."""

    def __init__(self) -> None:  # no client: only `commit` is used
        self.calls = 0
        self.committed: list[dict[TopicPartition, int]] = []
        self.first_sent = asyncio.Event()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.calls += 1
        if self.calls == 1:
            self.first_sent.set()
            await asyncio.Event().wait()
        self.committed.append(dict(offsets))


class Committing(AIOKafkaConsumer):  # type: ignore[misc]
    def __init__(self) -> None:  # no client: only `commit` is used
        self.committed: list[dict[TopicPartition, int]] = []
        self.sent = asyncio.Event()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.append(dict(offsets))
        self.sent.set()


async def test_positions_handled_within_the_interval_go_out_in_one_copy() -> None:
    consumer = Committing()
    copies = OffsetCopies("orders", interval_seconds=0.05, consumer=lambda: consumer)
    copies.queue(FIRST, 3)
    copies.queue(SECOND, 7)
    copies.queue(FIRST, 5)
    async with asyncio.timeout(5):
        await consumer.sent.wait()
    assert consumer.committed == [{FIRST: 5, SECOND: 7}]


async def test_an_offset_copy_cut_off_by_shutdown_is_sent_with_the_last_one() -> None:
    consumer = StalledFirstCommit()
    copies = OffsetCopies("orders", interval_seconds=0.01, consumer=lambda: consumer)

    copies.queue(FIRST, 5)
    async with asyncio.timeout(5):
        await consumer.first_sent.wait()
    copies.queue(SECOND, 3)
    await copies.send_now()

    assert consumer.committed == [{FIRST: 5, SECOND: 3}]
