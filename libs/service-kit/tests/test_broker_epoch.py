"""The start-up step that notices a new Kafka broker and has the service recover once."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY

from service_kit.broker_epoch import BrokerChanged, BrokerRecovery, BrokerWatch, reconcile_broker
from service_kit.settings import KafkaSettings


class FakeEpoch:
    """A service's stored cluster id; `adopt` records each recovery it was asked for."""

    def __init__(self, stored: str | None) -> None:
        self.stored = stored
        self.adopted: list[str] = []

    async def stored_cluster_id(self) -> str | None:
        return self.stored

    async def record_cluster_id(self, cluster_id: str) -> None:
        self.stored = cluster_id

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        if self.stored == cluster_id:
            return None
        self.adopted.append(cluster_id)
        self.stored = cluster_id
        return BrokerRecovery(
            republished="the whole outbox (12 rows)", dropped_offsets="3 stored offsets"
        )


def broker_changes(service: str) -> float:
    value = REGISTRY.get_sample_value("kafka_broker_changes_total", {"service": service})
    return value or 0.0


async def test_first_start_stores_the_cluster_id_without_recovering() -> None:
    epoch = FakeEpoch(stored=None)

    recovery = await reconcile_broker("first-start", epoch, "cluster-a")

    assert recovery is None
    assert epoch.stored == "cluster-a"
    assert epoch.adopted == []
    assert broker_changes("first-start") == 0


async def test_the_same_broker_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    epoch = FakeEpoch(stored="cluster-a")

    with caplog.at_level(logging.INFO, logger="service_kit.broker_epoch"):
        recovery = await reconcile_broker("same-broker", epoch, "cluster-a")

    assert recovery is None
    assert epoch.adopted == []
    assert caplog.records == []
    assert broker_changes("same-broker") == 0


async def test_a_new_broker_is_adopted_once_and_logged_once_with_what_is_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    epoch = FakeEpoch(stored="cluster-a")

    with caplog.at_level(logging.INFO, logger="service_kit.broker_epoch"):
        first = await reconcile_broker("new-broker", epoch, "cluster-b")
        again = await reconcile_broker("new-broker", epoch, "cluster-b")

    assert first is not None
    assert again is None
    assert epoch.adopted == ["cluster-b"]
    assert epoch.stored == "cluster-b"
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    for said in ("cluster-a", "cluster-b", "the whole outbox (12 rows)", "3 stored offsets"):
        assert said in message
    assert broker_changes("new-broker") == 1


async def test_a_replica_that_adopted_the_new_broker_first_is_not_counted_again() -> None:
    class AdoptedMeanwhile(FakeEpoch):
        async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
            self.stored = cluster_id  # another replica's transaction committed first
            return None

    recovery = await reconcile_broker("raced", AdoptedMeanwhile(stored="cluster-a"), "cluster-b")

    assert recovery is None
    assert broker_changes("raced") == 0


class Broker:
    """What the watch asks the broker: its cluster id, or no answer while it is down."""

    def __init__(self, cluster_id: str | None) -> None:
        self.cluster_id = cluster_id

    async def identify(self) -> str:
        if self.cluster_id is None:
            raise ConnectionError("broker unreachable")
        return self.cluster_id


def watch_of(epoch: FakeEpoch, broker: Broker, events: list[str]) -> BrokerWatch:
    async def after_recovery() -> None:
        events.append("after_recovery")

    return BrokerWatch(
        KafkaSettings(service_name="orders-service"),
        epoch,
        lambda: events.append("reposition"),
        broker.identify,
        after_recovery=after_recovery,
    )


async def test_a_running_service_recovers_in_place_when_its_broker_is_replaced() -> None:
    epoch, broker, events = FakeEpoch(stored="cluster-a"), Broker("cluster-a"), []
    watch = watch_of(epoch, broker, events)
    assert await watch.check() is None
    assert events == []

    broker.cluster_id = None  # killed: nothing to compare, nothing done
    assert await watch.check() is None
    broker.cluster_id = "cluster-b"  # an empty broker in its place
    recovery = await watch.check()

    assert recovery is not None
    assert epoch.adopted == ["cluster-b"]
    assert events == ["reposition", "after_recovery"]
    assert await watch.check() is None, "recovers once per broker"
    assert events == ["reposition", "after_recovery"]


async def test_the_watch_keeps_watching_through_a_database_outage() -> None:
    class DatabaseDown(FakeEpoch):
        failures = 1

        async def stored_cluster_id(self) -> str | None:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("the service's database is restarting")
            return await super().stored_cluster_id()

    epoch, broker = DatabaseDown(stored="cluster-a"), Broker("cluster-b")
    recovered = asyncio.Event()

    async def after_recovery() -> None:
        recovered.set()

    watch = BrokerWatch(
        KafkaSettings(service_name="orders-service"),
        epoch,
        lambda: None,
        broker.identify,
        interval_seconds=0.001,
        after_recovery=after_recovery,
    )
    running = asyncio.create_task(watch.run())
    try:
        async with asyncio.timeout(5):
            await recovered.wait()
    finally:
        running.cancel()
    assert epoch.adopted == ["cluster-b"]


async def test_a_replica_repositions_when_another_replica_adopted_the_new_broker_first() -> None:
    epoch, broker, events = FakeEpoch(stored="cluster-a"), Broker("cluster-a"), []
    watch = watch_of(epoch, broker, events)
    assert await watch.check() is None

    broker.cluster_id = "cluster-b"
    epoch.stored = "cluster-b"  # the other replica's recovery committed before our check
    assert await watch.check() is None, "the recovery is the other replica's"

    assert epoch.adopted == []
    assert events == ["reposition", "after_recovery"], "our positions moved all the same"


async def test_nothing_is_published_to_a_new_broker_before_the_service_adopted_it() -> None:
    epoch, broker, events = FakeEpoch(stored="cluster-a"), Broker("cluster-a"), []
    recovered = asyncio.Event()

    async def after_recovery() -> None:
        recovered.set()

    watch = BrokerWatch(
        KafkaSettings(service_name="orders-service"),
        epoch,
        lambda: events.append("reposition"),
        broker.identify,
        interval_seconds=3600,  # only a refused publish makes the watch look now
        after_recovery=after_recovery,
        confirmed_for_seconds=0,
    )
    await watch.confirm()

    broker.cluster_id = "cluster-b"
    with pytest.raises(BrokerChanged, match="cluster-b"):
        await watch.confirm()
    assert epoch.adopted == [], "the publisher may hold rows the recovery updates: not inline"

    running = asyncio.create_task(watch.run())
    try:
        async with asyncio.timeout(5):
            await recovered.wait()
    finally:
        running.cancel()
    await watch.confirm()
    assert epoch.adopted == ["cluster-b"]
    assert events == ["reposition"]


async def test_a_publisher_cannot_send_while_the_broker_does_not_answer_who_it_is() -> None:
    watch = watch_of(FakeEpoch(stored="cluster-a"), Broker(None), [])

    with pytest.raises(ConnectionError):
        await watch.confirm()
