"""Lag: how far behind each partition is, and how long the furthest-behind one has been."""

from __future__ import annotations

import time

from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from service_kit.kafka.lag import ConsumerLag

LAGGING = TopicPartition("lag-test", 0)


class Consumer:
    def __init__(self, highwater: int) -> None:
        self.log_end = highwater

    def highwater(self, tp: TopicPartition) -> int:
        return self.log_end


def gauge(tp: TopicPartition) -> float | None:
    return REGISTRY.get_sample_value(
        "kafka_consumer_lag", {"topic": tp.topic, "partition": str(tp.partition)}
    )


def test_before_any_partition_is_assigned_the_wait_counts_as_lag() -> None:
    lag = ConsumerLag()
    time.sleep(0.01)
    assert lag.seconds(ever_assigned=False) >= 0.01


def test_a_partition_behind_its_high_watermark_lags_until_it_catches_up() -> None:
    lag = ConsumerLag()
    lag.observe(Consumer(highwater=10), {LAGGING: 4})
    assert gauge(LAGGING) == 6
    time.sleep(0.01)
    assert lag.seconds(ever_assigned=True) >= 0.01

    lag.observe(Consumer(highwater=10), {LAGGING: 10})
    assert gauge(LAGGING) == 0
    assert lag.seconds(ever_assigned=True) == 0.0


def test_a_partition_taken_away_no_longer_counts() -> None:
    lag = ConsumerLag()
    lag.observe(Consumer(highwater=10), {LAGGING: 4})
    lag.forget([LAGGING])
    assert lag.seconds(ever_assigned=True) == 0.0
