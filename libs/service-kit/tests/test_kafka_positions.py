"""Every batch a subscriber sees continues exactly where the positions it stored say."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from aiokafka import TopicPartition

from service_kit.kafka.positions import ConsumerPositions
from service_kit.kafka.retries import Backoff, is_transient

from .order_subscriber import TOPIC, Recorder, fetched, runtime_with, settings

PARTITION = TopicPartition(TOPIC, 0)


class Consumer:
    """What positions ask of the consumer: where to seek, and how far the log goes."""

    def __init__(self, *, log_end: int) -> None:
        self.log_end = log_end
        self.sought: list[tuple[TopicPartition, int]] = []

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought.append((tp, offset))

    def highwater(self, tp: TopicPartition) -> int:
        return self.log_end

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.log_end for tp in partitions}


def positions_stored_at(next_offset: int, consumer: Consumer) -> ConsumerPositions:
    async def stored(partitions: Collection[TopicPartition]) -> Mapping[TopicPartition, int]:
        return {PARTITION: next_offset}

    backoff = Backoff(settings(), is_transient, subscriber="orders")
    return ConsumerPositions("orders", stored, backoff, lambda: consumer)


async def test_a_fetch_that_repeats_records_hands_each_offset_once_in_order() -> None:
    recorder = Recorder()
    runtime, _ = runtime_with(recorder)
    (subscription,) = runtime.subscriptions
    await subscription.consume([fetched(0, 10), fetched(1, 11), fetched(1, 11), fetched(2, 12)])
    assert recorder.stored == [10, 11, 12]
    assert recorder.next_offsets == [3]


async def test_a_new_partition_starts_where_the_database_says() -> None:
    consumer = Consumer(log_end=10)
    positions = positions_stored_at(5, consumer)
    unhandled = await positions.unhandled(PARTITION, [fetched(5, 15), fetched(6, 16)])
    assert [record.offset for record in unhandled] == [5, 6]
    assert consumer.sought == [(PARTITION, 5)]
    assert positions.continues_from(PARTITION) == 5
    assert positions.assigned.is_set()


async def test_records_handled_before_are_dropped() -> None:
    positions = positions_stored_at(5, Consumer(log_end=10))
    unhandled = await positions.unhandled(PARTITION, [fetched(n, n) for n in range(3, 8)])
    assert [record.offset for record in unhandled] == [5, 6, 7]


async def test_a_fetch_that_skips_past_the_position_is_held_back_and_the_consumer_seeks() -> None:
    consumer = Consumer(log_end=10)
    positions = positions_stored_at(5, consumer)
    await positions.unhandled(PARTITION, [fetched(5, 5)])
    positions.advance(PARTITION, 6)
    assert await positions.unhandled(PARTITION, [fetched(8, 8)]) == []
    assert consumer.sought[-1] == (PARTITION, 6)


async def test_a_log_that_no_longer_holds_the_position_continues_where_it_starts() -> None:
    consumer = Consumer(log_end=10)
    positions = positions_stored_at(2, consumer)
    # Read at 2 (and sought there) but the broker has nothing below 4 any more.
    unhandled = await positions.unhandled(PARTITION, [fetched(4, 4), fetched(5, 5)])
    assert [record.offset for record in unhandled] == [4, 5]
    assert consumer.sought == [(PARTITION, 2)]


async def test_a_stored_position_past_the_log_end_is_refused_not_skipped_to() -> None:
    positions = positions_stored_at(40, Consumer(log_end=3))
    assert await positions.unhandled(PARTITION, [fetched(0, 0), fetched(1, 1)]) == []
    assert positions.beyond_log_end == {PARTITION}
    assert positions.handled() == {PARTITION: 40}


async def test_forgotten_partitions_are_read_from_the_database_again() -> None:
    consumer = Consumer(log_end=10)
    positions = positions_stored_at(5, consumer)
    await positions.unhandled(PARTITION, [fetched(5, 5)])
    positions.advance(PARTITION, 6)
    positions.forget([PARTITION])
    assert positions.handled() == {}
    unhandled = await positions.unhandled(PARTITION, [fetched(5, 5), fetched(6, 6)])
    assert [record.offset for record in unhandled] == [5, 6]
