"""The broker with a SASL/SCRAM-SHA-512 client listener and ACLs (`ScramListener`), and
`grant_acls`. tests/deploy/test_kafka_acls_on_a_broker.py runs the manifests' users on it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError

from local_infra.broker import KafkaBroker, ScramListener, create_topics
from local_infra.kafka_acls import Acl, grant_acls

ADMIN = "admin"
USER = "inventory"


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KafkaBroker]:
    scram = ScramListener(
        super_user=ADMIN,
        users={ADMIN: secrets.token_urlsafe(16), USER: secrets.token_urlsafe(16)},
    )
    started = KafkaBroker(tmp_path_factory.mktemp("scram"), scram=scram)
    await started.start()
    yield started
    started.stop()


async def send(broker: KafkaBroker, user: str, topic: str) -> int:
    assert broker.scram is not None
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, **broker.scram.client_settings(user)
    )
    await producer.start()
    try:
        sent = await asyncio.wait_for(producer.send_and_wait(topic, b"x"), 10)
    finally:
        await producer.stop()
    return int(sent.offset)


@pytest.mark.integration
async def test_a_scram_broker_starts_and_its_super_user_may_do_anything(
    broker: KafkaBroker,
) -> None:
    assert broker.is_running()
    assert "SASL_PLAINTEXT" in broker.config_path.read_text()
    await create_topics(
        broker.bootstrap_servers,
        ["super"],
        partitions=1,
        client_settings=broker.admin_client_settings(),
    )
    admin = AIOKafkaAdminClient(
        bootstrap_servers=broker.bootstrap_servers, **broker.admin_client_settings()
    )
    await admin.start()
    try:
        assert "super" in await admin.list_topics()
    finally:
        await admin.close()
    assert await send(broker, ADMIN, "super") == 0


@pytest.mark.integration
async def test_a_user_may_do_what_it_was_granted_and_nothing_else(broker: KafkaBroker) -> None:
    await create_topics(
        broker.bootstrap_servers,
        ["granted", "not-granted"],
        partitions=1,
        client_settings=broker.admin_client_settings(),
    )

    await grant_acls(
        broker, f"User:{USER}", [Acl("topic", "granted", frozenset({"Write", "Describe"}))]
    )

    assert await send(broker, USER, "granted") == 0
    with pytest.raises(TopicAuthorizationFailedError):
        await send(broker, USER, "not-granted")


async def test_grant_acls_needs_a_broker_that_authorizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SCRAM"):
        await grant_acls(KafkaBroker(tmp_path), "User:x", [])


@pytest.mark.parametrize("password", ['with"quote', "with space", "with\\backslash", ""])
def test_a_scram_listener_refuses_passwords_its_config_files_cannot_carry(password: str) -> None:
    with pytest.raises(ValueError, match="may only use"):
        ScramListener(super_user=ADMIN, users={ADMIN: "fine-password", USER: password})


def test_a_scram_listener_needs_its_super_users_password() -> None:
    with pytest.raises(ValueError, match="super user"):
        ScramListener(super_user=ADMIN, users={USER: "fine-password"})
