from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from local_infra import broker as broker_module
from local_infra.broker import KafkaBroker, create_topics, new_cluster_id
from local_infra.processes import is_alive
from local_infra.services import INVENTORY, SERVICE_SPECS, SharedSettings, service_environment
from service_kit.kafka.messages import OutboundMessage
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def _partition_count(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return len(description["partitions"])


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[KafkaBroker]:
    started = KafkaBroker(tmp_path)
    await started.start()
    yield started
    started.stop()


async def test_broker_starts_on_a_free_port_and_reports_running(broker: KafkaBroker) -> None:
    assert broker.is_running()
    assert broker.port not in (None, 9092)
    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
    assert broker.log_path.exists()


async def test_a_new_cluster_whose_id_starts_with_a_dash_is_formatted_and_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One id in 64 starts with "-", which the storage tool would read as an option.
    monkeypatch.setattr(broker_module, "new_cluster_id", lambda: "-" + new_cluster_id()[1:])
    started = KafkaBroker(tmp_path)
    await started.start()
    try:
        assert (started.cluster_id or "").startswith("-")
        assert await _cluster_id(started.bootstrap_servers) == started.cluster_id
    finally:
        started.stop()


async def test_create_topics_makes_the_requested_partitions_and_is_idempotent(
    broker: KafkaBroker,
) -> None:
    await create_topics(broker.bootstrap_servers, ["orders", "payments"], partitions=3)
    await create_topics(broker.bootstrap_servers, ["orders"], partitions=3)

    assert await _partition_count(broker.bootstrap_servers, "orders") == 3
    assert await _partition_count(broker.bootstrap_servers, "payments") == 3


async def test_stop_leaves_no_process(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path)
    await broker.start()
    pid = broker.pid
    assert pid is not None

    broker.stop()

    assert not is_alive(pid)
    assert not broker.is_running()
    assert not broker.pid_path.exists()


async def test_start_reuses_the_broker_its_pid_file_names(broker: KafkaBroker) -> None:
    again = KafkaBroker(broker.state_dir)

    assert await again.start() == broker.bootstrap_servers
    assert again.pid == broker.pid


async def _cluster_id(bootstrap: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return str((await admin.describe_cluster())["cluster_id"])
    finally:
        await admin.close()


async def test_a_stop_and_a_start_keep_topics_records_and_the_cluster(tmp_path: Path) -> None:
    first = KafkaBroker(tmp_path)
    bootstrap = await first.start()
    cluster_id = await _cluster_id(bootstrap)
    await create_topics(bootstrap, ["kept"], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("kept", b"still here")
    finally:
        await producer.stop()
    first.stop()

    again = KafkaBroker(tmp_path)
    try:
        bootstrap = await again.start()
        assert await _cluster_id(bootstrap) == cluster_id == again.cluster_id
        consumer = AIOKafkaConsumer(
            "kept", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), 10)
        finally:
            await consumer.stop()
    finally:
        again.stop()

    assert record.value == b"still here"


async def test_a_new_cluster_formatted_in_place_is_empty_and_clients_can_tell_it_apart(
    tmp_path: Path,
) -> None:
    first = KafkaBroker(tmp_path)
    await first.start()
    first_id = await _cluster_id(first.bootstrap_servers)
    assert first_id == first.cluster_id
    await create_topics(first.bootstrap_servers, ["lost"], partitions=1)
    port = first.port
    first.kill()
    first.format_new_cluster()

    second = KafkaBroker(tmp_path, port=port)
    try:
        await second.start()
        second_id = await _cluster_id(second.bootstrap_servers)
        assert second_id == second.cluster_id
        admin = AIOKafkaAdminClient(bootstrap_servers=second.bootstrap_servers)
        await admin.start()
        try:
            assert "lost" not in await admin.list_topics()
        finally:
            await admin.close()
    finally:
        second.stop()

    assert first_id != second_id
    assert second.port == port


async def test_records_published_in_multi_record_batches_all_count_in_the_end_of_a_partition(
    broker: KafkaBroker,
) -> None:
    # The environment every stack service gets decides the producer's batches.
    shared = SharedSettings(
        environment="test",
        log_level="INFO",
        host="127.0.0.1",
        redis_url="redis://127.0.0.1:6379/0",
        redis_key_prefix="",
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_topic_prefix="",
        service_urls={name: "http://127.0.0.1:1" for name in SERVICE_SPECS},
        payment_provider_secret_key="k" * 32,
        extra_env={},
    )
    environment = service_environment(
        shared, port=0, database_url=None, base_env={}, service=INVENTORY
    )
    settings = KafkaSettings(
        service_name="publisher",
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_idempotent_producer=environment["KAFKA_IDEMPOTENT_PRODUCER"] == "true",
    )
    await create_topics(broker.bootstrap_servers, ["ends"], partitions=1)
    runtime = KafkaRuntime(settings)
    await runtime.start()
    try:
        await runtime.publish(
            [OutboundMessage("ends", b"show", b"x" * 100, []) for _ in range(300)]
        )
    finally:
        await runtime.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers)
    await consumer.start()
    try:
        partition = TopicPartition("ends", 0)
        assert (await consumer.end_offsets([partition]))[partition] == 300
    finally:
        await consumer.stop()
