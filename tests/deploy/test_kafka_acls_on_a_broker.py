"""The KafkaUsers of the Kubernetes manifests, on a real broker: Apache Kafka with a
SASL/SCRAM-SHA-512 listener and the standard authorizer, given exactly the ACLs the
manifests list, and clients built as every service builds its own (`KafkaSettings` and
`kafka_client_options`; producers idempotent and waiting for all replicas, as the kit's).

Each user writes only the topics it has Write on, reads only those it has Read on, joins
only the consumer groups it has an ACL for; a wrong password and an unknown user are
refused. Every refusal is checked to be the broker's authorization or authentication
answer, never a timeout. test_kafka_access.py checks the same manifests statically.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)

from local_infra.broker import KafkaBroker, ScramListener, create_topics
from local_infra.kafka_acls import Acl, grant_acls
from service_kit.kafka_security import kafka_client_options
from service_kit.settings import KafkaSettings
from ticketing_contracts.topics import ALL_TOPICS

pytestmark = pytest.mark.integration

KAFKA_USERS_MANIFEST = (
    Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "kafka-users.yaml"
)
SUPER_USER = "kafka-admin"
# Generous for one local broker; a refusal comes back in milliseconds.
ANSWER_SECONDS = 10.0


def acls_in_manifests() -> dict[str, list[Acl]]:
    """Each KafkaUser's `spec.authorization.acls`, as written."""
    documents = yaml.safe_load_all(KAFKA_USERS_MANIFEST.read_text())
    return {
        user["metadata"]["name"]: [
            Acl(
                resource_type=acl["resource"]["type"],
                resource_name=acl["resource"]["name"],
                operations=frozenset(acl["operations"]),
                pattern_type=acl["resource"]["patternType"],
            )
            for acl in user["spec"]["authorization"]["acls"]
        ]
        for user in documents
        if user and user["kind"] == "KafkaUser"
    }


KAFKA_USERS = acls_in_manifests()


def allows(user: str, resource_type: str, name: str, operation: str) -> bool:
    return any(
        acl.resource_type == resource_type
        and operation in acl.operations
        and (
            acl.resource_name == name
            if acl.pattern_type == "literal"
            else name.startswith(acl.resource_name)
        )
        for acl in KAFKA_USERS[user]
    )


def named(resource_type: str) -> set[str]:
    return {
        acl.resource_name
        for acls in KAFKA_USERS.values()
        for acl in acls
        if acl.resource_type == resource_type
    }


def topic_cases(operation: str, *, allowed: bool) -> list[tuple[str, str]]:
    return [
        (user, topic)
        for user in KAFKA_USERS
        for topic in ALL_TOPICS
        if allows(user, "topic", topic, operation) == allowed
    ]


def group_cases(*, allowed: bool) -> list[tuple[str, str]]:
    return [
        (user, group)
        for user in KAFKA_USERS
        for group in sorted(named("group"))
        if allows(user, "group", group, "Read") == allowed
    ]


def readable_topics(user: str) -> list[str]:
    return [topic for topic in ALL_TOPICS if allows(user, "topic", topic, "Read")]


# booking-command consumes nothing: inventory answers its holds over HTTP.
PRODUCE_ONLY = {"booking-command"}


def test_the_manifests_name_only_platform_topics_and_every_consumer_reads_one() -> None:
    assert KAFKA_USERS
    assert SUPER_USER not in KAFKA_USERS
    assert named("topic") <= set(ALL_TOPICS)
    assert {user for user in KAFKA_USERS if not readable_topics(user)} == PRODUCE_ONLY


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KafkaBroker]:
    """One broker for the module: the platform topics (one record each, written by the
    super user) and every KafkaUser with its manifest's ACLs and a random password."""
    passwords = {user: secrets.token_urlsafe(24) for user in (SUPER_USER, *KAFKA_USERS)}
    kafka = KafkaBroker(
        tmp_path_factory.mktemp("kafka-acls"),
        scram=ScramListener(super_user=SUPER_USER, users=passwords),
    )
    await kafka.start()
    try:
        await create_topics(
            kafka.bootstrap_servers,
            ALL_TOPICS,
            partitions=1,
            client_settings=kafka.admin_client_settings(),
        )
        for user, acls in KAFKA_USERS.items():
            await grant_acls(kafka, f"User:{user}", acls)
        for topic in ALL_TOPICS:
            await publish(kafka, SUPER_USER, topic, b"written by the super user")
        yield kafka
    finally:
        kafka.stop()


def settings_of(broker: KafkaBroker, user: str, password: str | None = None) -> KafkaSettings:
    """The settings a service logged in as `user` runs with (plaintext is allowed in tests)."""
    assert broker.scram is not None
    return KafkaSettings(
        _env_file=None,
        environment="test",
        service_name=user,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=user,
        kafka_sasl_password=password or broker.scram.users[user],
        kafka_idempotent_producer=True,
    )


async def publish(broker: KafkaBroker, user: str, topic: str, value: bytes) -> int:
    """Publish one record logged in as `user`; its offset."""
    settings = settings_of(broker, user)
    producer = AIOKafkaProducer(
        **kafka_client_options(settings),
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
    )
    await producer.start()
    try:
        sent = await asyncio.wait_for(producer.send_and_wait(topic, value), ANSWER_SECONDS)
    finally:
        await producer.stop()
    return int(sent.offset)


async def read_without_group(broker: KafkaBroker, user: str, topic: str) -> bytes:
    """The first record of `topic`, read by assigning its partition (no group)."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings_of(broker, user)))
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        record = await asyncio.wait_for(consumer.getone(), ANSWER_SECONDS)
    finally:
        await consumer.stop()
    return bytes(record.value)


@pytest.mark.parametrize(("user", "topic"), topic_cases("Write", allowed=True))
async def test_a_user_writes_each_topic_it_has_write_on(
    broker: KafkaBroker, user: str, topic: str
) -> None:
    assert await publish(broker, user, topic, f"from {user}".encode()) >= 1


@pytest.mark.parametrize(("user", "topic"), topic_cases("Write", allowed=False))
async def test_a_user_cannot_write_a_topic_it_has_no_write_on(
    broker: KafkaBroker, user: str, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await publish(broker, user, topic, f"from {user}".encode())


@pytest.mark.parametrize(("user", "topic"), topic_cases("Read", allowed=True))
async def test_a_user_reads_each_topic_it_has_read_on_without_a_group(
    broker: KafkaBroker, user: str, topic: str
) -> None:
    assert await read_without_group(broker, user, topic) == b"written by the super user"


@pytest.mark.parametrize(("user", "topic"), topic_cases("Read", allowed=False))
async def test_a_user_cannot_read_a_topic_it_has_no_read_on(
    broker: KafkaBroker, user: str, topic: str
) -> None:
    if not allows(user, "topic", topic, "Describe"):
        # Without Describe the broker does not even tell the user the topic exists.
        assert topic not in await visible_topics(broker, user)
        return
    with pytest.raises(TopicAuthorizationFailedError):
        await read_without_group(broker, user, topic)


async def visible_topics(broker: KafkaBroker, user: str) -> set[str]:
    consumer = AIOKafkaConsumer(**kafka_client_options(settings_of(broker, user)))
    await consumer.start()
    try:
        return set(await asyncio.wait_for(consumer.topics(), ANSWER_SECONDS))
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("user", "group"), group_cases(allowed=True))
async def test_a_user_consumes_what_it_reads_in_each_group_it_has_an_acl_for(
    broker: KafkaBroker, user: str, group: str
) -> None:
    topics = readable_topics(user)
    consumer = AIOKafkaConsumer(
        *topics,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_options(settings_of(broker, user)),
    )
    try:
        await asyncio.wait_for(consumer.start(), ANSWER_SECONDS)
        consumed: set[str] = set()
        async with asyncio.timeout(ANSWER_SECONDS):
            while consumed != set(topics):
                batches = await consumer.getmany(timeout_ms=200)
                consumed |= {partition.topic for partition in batches}
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topics[0], 0))
    finally:
        await consumer.stop()

    assert committed is not None
    assert committed >= 1


@pytest.mark.parametrize(("user", "group"), group_cases(allowed=False))
async def test_a_user_cannot_join_a_group_it_has_no_acl_for(
    broker: KafkaBroker, user: str, group: str
) -> None:
    consumer = AIOKafkaConsumer(
        (readable_topics(user) or ALL_TOPICS)[0],
        group_id=group,
        **kafka_client_options(settings_of(broker, user)),
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await asyncio.wait_for(consumer.start(), ANSWER_SECONDS)
    finally:
        await consumer.stop()


async def login_refusals(
    broker: KafkaBroker, user: str, password: str, caplog: pytest.LogCaptureFixture
) -> list[BaseException]:
    """Why a client logging in as `user` could not start: aiokafka turns a failed login
    into KafkaConnectionError at bootstrap and logs the broker's answer beside it."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings_of(broker, user, password)))
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        try:
            with pytest.raises(KafkaConnectionError):
                await asyncio.wait_for(consumer.start(), ANSWER_SECONDS)
        finally:
            await consumer.stop()
    return [
        argument
        for record in caplog.records
        if isinstance(record.args, tuple)
        for argument in record.args
        if isinstance(argument, BaseException)
    ]


@pytest.mark.parametrize("user", sorted(KAFKA_USERS))
async def test_a_user_with_a_wrong_password_is_refused(
    broker: KafkaBroker, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    refusals = await login_refusals(broker, user, secrets.token_urlsafe(24), caplog)

    assert refusals
    assert all(isinstance(refusal, SaslAuthenticationFailed) for refusal in refusals)


async def test_an_unknown_user_is_refused(
    broker: KafkaBroker, caplog: pytest.LogCaptureFixture
) -> None:
    refusals = await login_refusals(broker, "not-a-kafka-user", secrets.token_urlsafe(24), caplog)

    assert refusals
    assert all(isinstance(refusal, SaslAuthenticationFailed) for refusal in refusals)
