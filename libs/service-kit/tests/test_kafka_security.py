"""Kafka authentication and TLS: what the settings accept, and that every client of a
service (the runtime's broker, the aiokafka admin, probe, replay and dead-letter
consumers) is built with the same credentials.

These tests stop at the client constructors. Clients built from the same settings log in
to a real broker in tests/deploy/test_kafka_acls_on_a_broker.py: Apache Kafka with a
SASL/SCRAM-SHA-512 listener and the Kubernetes manifests' users and ACLs, where each
service may write only the topics it owns and read only what it consumes.
tests/deploy/test_kafka_access.py checks the manifests themselves.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import certifi
import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service_kit.dead_letters import _assigned_consumer
from service_kit.dependency_probes import kafka_probe
from service_kit.kafka.broker import create_broker
from service_kit.kafka_security import kafka_client_options
from service_kit.kafka_topics import ensure_topics
from service_kit.settings import ConfigurationError, KafkaSettings, load_settings
from service_kit.topic_replay import TopicReplay, partitions_of

PASSWORD = "Vq8Zt3Lm1Xr6Np0Wc4Hs9Kd2"
SASL_SSL = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "inventory",
    "KAFKA_SASL_PASSWORD": PASSWORD,
    "KAFKA_SSL_CA_FILE": certifi.where(),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        *SASL_SSL,
        "ENVIRONMENT",
        "KAFKA_ALLOW_PLAINTEXT",
        "KAFKA_SASL_MECHANISM",
        "DEAD_LETTER_KAFKA_USERNAME",
        "DEAD_LETTER_KAFKA_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def settings_from(monkeypatch: pytest.MonkeyPatch, **variables: str) -> KafkaSettings:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings(KafkaSettings)


def client_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inventory")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "user.crt", directory / "user.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_plaintext_stays_the_default_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch)
    assert kafka_client_options(settings) == {"bootstrap_servers": "127.0.0.1:9092"}


def test_sasl_without_credentials_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigurationError, match="needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
    ):
        settings_from(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="x")


def test_production_refuses_kafka_without_tls_and_authentication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="production needs KAFKA_SECURITY_PROTOCOL"):
        settings_from(monkeypatch)
    with pytest.raises(ConfigurationError, match="production needs KAFKA_SECURITY_PROTOCOL"):
        settings_from(
            monkeypatch,
            KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
            KAFKA_SASL_USERNAME="inventory",
            KAFKA_SASL_PASSWORD=PASSWORD,
        )
    with pytest.raises(ConfigurationError, match="production needs KAFKA_SECURITY_PROTOCOL"):
        settings_from(monkeypatch, KAFKA_SECURITY_PROTOCOL="SSL")


def test_production_accepts_plaintext_only_when_told_the_network_is_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(monkeypatch, ENVIRONMENT="production", KAFKA_ALLOW_PLAINTEXT="true")
    assert settings.kafka_security_protocol == "PLAINTEXT"


def test_production_refuses_a_placeholder_kafka_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="KAFKA_SASL_PASSWORD looks like a placeholder"):
        settings_from(monkeypatch, **{**SASL_SSL, "KAFKA_SASL_PASSWORD": "changeme"})


def test_a_client_certificate_needs_its_key_and_tls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, _ = client_certificate(tmp_path)
    with pytest.raises(ConfigurationError, match="go together"):
        settings_from(monkeypatch, KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CERT_FILE=str(cert))
    monkeypatch.delenv("KAFKA_SSL_CERT_FILE")
    with pytest.raises(ConfigurationError, match="only used with"):
        settings_from(monkeypatch, KAFKA_SECURITY_PROTOCOL="PLAINTEXT", KAFKA_SSL_CA_FILE=str(cert))


def test_a_missing_ca_file_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="KAFKA_SSL_CA_FILE"):
        settings_from(monkeypatch, **{**SASL_SSL, "KAFKA_SSL_CA_FILE": "/nonexistent/ca.crt"})


def test_production_accepts_scram_over_tls_and_keeps_the_password_out_of_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(
        monkeypatch,
        ENVIRONMENT="production",
        **SASL_SSL,
        # Production with SASL also needs the dead-letter commands' own login
        # (test_dead_letter_credentials.py).
        DEAD_LETTER_KAFKA_USERNAME="dead-letter-redrive",
        DEAD_LETTER_KAFKA_PASSWORD="Hb5Rk2Wq7Zt0Lc3Nm8Xv1Pd6",
    )
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert PASSWORD not in repr(settings)


def _security_of(client: AIOKafkaClient) -> dict[str, Any]:
    return {
        "security_protocol": client._security_protocol,
        "sasl_mechanism": client._sasl_mechanism,
        "username": client._sasl_plain_username,
        "password": client._sasl_plain_password,
        "verifies_brokers": client._ssl_context is not None and client._ssl_context.check_hostname,
    }


SCRAM_OVER_TLS = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "username": "inventory",
    "password": PASSWORD,
    "verifies_brokers": True,
}


async def test_every_kafka_client_of_the_kit_authenticates_with_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(monkeypatch, **SASL_SSL)
    built: list[AIOKafkaClient] = []
    real_client = AIOKafkaClient.__init__

    def record(self: AIOKafkaClient, **kwargs: Any) -> None:
        real_client(self, **kwargs)
        built.append(self)
        raise _Built

    monkeypatch.setattr(AIOKafkaClient, "__init__", record)

    with pytest.raises(_Built):
        await kafka_probe(settings)()
    with pytest.raises(_Built):
        await ensure_topics(settings, ["ticketing.booking.v1"])
    with pytest.raises(_Built):
        TopicReplay(settings, ["ticketing.booking.v1"], decode=bytes)
    with pytest.raises(_Built):
        await _assigned_consumer(settings, "ticketing.dead-letter.v1", "inventory.redrive")
    with pytest.raises(_Built):
        await partitions_of(settings, ["ticketing.dead-letter.v1"])

    assert len(built) == 5
    assert all(_security_of(client) == SCRAM_OVER_TLS for client in built)


class _Built(Exception):
    """Stops a kit function once its client exists, before it dials the broker."""


async def test_the_runtime_broker_produces_and_consumes_with_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(monkeypatch, **SASL_SSL)
    broker = create_broker(settings)
    producer_options = broker._connection_kwargs
    consumer = broker.config.broker_config.builder()
    assert _security_of(consumer._client) == SCRAM_OVER_TLS
    assert producer_options["security_protocol"] == "SASL_SSL"
    assert producer_options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert producer_options["sasl_plain_username"] == "inventory"
    assert producer_options["sasl_plain_password"] == PASSWORD
    assert producer_options["ssl_context"].check_hostname


async def test_mutual_tls_presents_the_client_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, key = client_certificate(tmp_path)
    settings = settings_from(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SSL",
        KAFKA_SSL_CERT_FILE=str(cert),
        KAFKA_SSL_KEY_FILE=str(key),
        ENVIRONMENT="production",
    )
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SSL"
    admin = AIOKafkaAdminClient(**options)
    assert admin._client._ssl_context is options["ssl_context"]
    assert "sasl_mechanism" not in options


async def test_sasl_plaintext_sends_no_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-256",
        KAFKA_SASL_USERNAME="inventory",
        KAFKA_SASL_PASSWORD=PASSWORD,
    )
    consumer = AIOKafkaConsumer(**kafka_client_options(settings))
    assert consumer._client._security_protocol == "SASL_PLAINTEXT"
    assert consumer._client._sasl_mechanism == "SCRAM-SHA-256"
    assert consumer._client._ssl_context is None
