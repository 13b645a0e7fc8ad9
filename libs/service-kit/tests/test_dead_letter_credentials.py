"""The dead-letter commands' own Kafka login (DEAD_LETTER_KAFKA_USERNAME/PASSWORD): what the
settings accept, and that the admin routes build every Kafka client, the re-drive's
producer included, with it, while a service without it keeps its own connection.

No broker with SASL exists here (see test_kafka_security.py): the tests stop at the
clients' constructors and read the options they were given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import certifi
import pytest
from aiokafka import AIOKafkaClient
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service_kit.dead_letter_routes import dead_letter_router
from service_kit.internal_auth import Caller, internal_caller
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka_security import kafka_client_options
from service_kit.settings import ConfigurationError, KafkaSettings, load_settings

SERVICE_PASSWORD = "Vq8Zt3Lm1Xr6Np0Wc4Hs9Kd2"
REDRIVE_PASSWORD = "Hb5Rk2Wq7Zt0Lc3Nm8Xv1Pd6"
SASL_SSL = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "inventory",
    "KAFKA_SASL_PASSWORD": SERVICE_PASSWORD,
    "KAFKA_SSL_CA_FILE": certifi.where(),
}
DEAD_LETTER_LOGIN = {
    "DEAD_LETTER_KAFKA_USERNAME": "dead-letter-redrive",
    "DEAD_LETTER_KAFKA_PASSWORD": REDRIVE_PASSWORD,
}
GROUP = "inventory"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (*SASL_SSL, *DEAD_LETTER_LOGIN, "ENVIRONMENT", "KAFKA_ALLOW_PLAINTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def settings_from(monkeypatch: pytest.MonkeyPatch, **variables: str) -> KafkaSettings:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings(KafkaSettings)


def test_the_dead_letter_username_and_password_go_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="DEAD_LETTER_KAFKA_PASSWORD go together"):
        settings_from(monkeypatch, **SASL_SSL, DEAD_LETTER_KAFKA_USERNAME="dead-letter-redrive")
    monkeypatch.delenv("DEAD_LETTER_KAFKA_USERNAME")
    with pytest.raises(ConfigurationError, match="DEAD_LETTER_KAFKA_PASSWORD go together"):
        settings_from(monkeypatch, DEAD_LETTER_KAFKA_PASSWORD=REDRIVE_PASSWORD)


def test_dead_letter_credentials_without_sasl_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="only used with KAFKA_SECURITY_PROTOCOL=SASL"):
        settings_from(monkeypatch, **DEAD_LETTER_LOGIN)


def test_production_with_sasl_needs_the_dead_letter_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="production with SASL needs DEAD_LETTER_KAFKA"):
        settings_from(monkeypatch, **SASL_SSL)
    with pytest.raises(ConfigurationError, match="DEAD_LETTER_KAFKA_PASSWORD looks like a"):
        settings_from(
            monkeypatch,
            **SASL_SSL,
            **{**DEAD_LETTER_LOGIN, "DEAD_LETTER_KAFKA_PASSWORD": "changeme"},
        )
    settings = settings_from(monkeypatch, **SASL_SSL, **DEAD_LETTER_LOGIN)
    assert REDRIVE_PASSWORD not in repr(settings)


def test_without_sasl_nothing_is_needed_and_the_service_s_own_connection_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private_network = settings_from(
        monkeypatch, ENVIRONMENT="production", KAFKA_ALLOW_PLAINTEXT="true"
    )
    assert private_network.dead_letter_kafka_settings() is private_network
    monkeypatch.delenv("ENVIRONMENT")
    development_sasl = settings_from(monkeypatch, **SASL_SSL)
    assert development_sasl.dead_letter_kafka_settings() is development_sasl


def test_the_dead_letter_login_changes_only_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch, **SASL_SSL, **DEAD_LETTER_LOGIN, KAFKA_SASL_MECHANISM="SCRAM-SHA-256"
    )
    own = kafka_client_options(settings)
    dedicated = kafka_client_options(settings.dead_letter_kafka_settings())
    assert own["sasl_plain_username"] == "inventory"
    assert dedicated["sasl_plain_username"] == "dead-letter-redrive"
    assert dedicated["sasl_plain_password"] == REDRIVE_PASSWORD
    for same in ("bootstrap_servers", "security_protocol", "sasl_mechanism"):
        assert dedicated[same] == own[same]
    assert dedicated["sasl_mechanism"] == "SCRAM-SHA-256"
    assert dedicated["ssl_context"].check_hostname


class _Built(Exception):
    """Stops a route once its Kafka client exists, before it dials the broker."""


class _ServiceRuntime:
    """The service's running runtime; the routes must not publish through it when the
    dead-letter login is set."""

    async def publish(self, messages: Any) -> None:
        raise AssertionError("re-drove with the service's own Kafka user")


def admin_client(settings: KafkaSettings) -> TestClient:
    app = FastAPI()
    app.include_router(dead_letter_router(settings, GROUP, lambda: _ServiceRuntime()))  # type: ignore[arg-type, return-value]
    app.dependency_overrides[internal_caller] = lambda: Caller(id="ops-1", role="admin")
    return TestClient(app)


@pytest.fixture
def logins(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The login of every Kafka client the routes build: aiokafka consumers, and the
    producer of a runtime started for a re-drive."""
    seen: list[dict[str, Any]] = []
    real_client = AIOKafkaClient.__init__

    def client(self: AIOKafkaClient, **kwargs: Any) -> None:
        real_client(self, **kwargs)
        seen.append(
            {
                "client": "consumer",
                "username": self._sasl_plain_username,
                "password": self._sasl_plain_password,
                "security_protocol": self._security_protocol,
            }
        )
        raise _Built

    async def start(self: KafkaRuntime) -> None:
        options = self.broker._connection_kwargs
        seen.append(
            {
                "client": "producer",
                "username": options["sasl_plain_username"],
                "password": options["sasl_plain_password"],
                "security_protocol": options["security_protocol"],
            }
        )
        raise _Built

    monkeypatch.setattr(AIOKafkaClient, "__init__", client)
    monkeypatch.setattr(KafkaRuntime, "start", start)
    return seen


def as_user(username: str, password: str, client: str) -> dict[str, Any]:
    return {
        "client": client,
        "username": username,
        "password": password,
        "security_protocol": "SASL_SSL",
    }


def test_listing_reads_dead_letters_as_the_dead_letter_user(
    monkeypatch: pytest.MonkeyPatch, logins: list[dict[str, Any]]
) -> None:
    api = admin_client(settings_from(monkeypatch, **SASL_SSL, **DEAD_LETTER_LOGIN))
    with pytest.raises(_Built):
        api.get("/internal/v1/dead-letters")
    assert logins == [as_user("dead-letter-redrive", REDRIVE_PASSWORD, "consumer")]


def test_a_redrive_publishes_through_a_runtime_logged_in_as_the_dead_letter_user(
    monkeypatch: pytest.MonkeyPatch, logins: list[dict[str, Any]]
) -> None:
    api = admin_client(settings_from(monkeypatch, **SASL_SSL, **DEAD_LETTER_LOGIN))
    with pytest.raises(_Built):
        api.post("/internal/v1/dead-letters/redrive", json={"dead_letter": "0@12"})
    assert logins == [as_user("dead-letter-redrive", REDRIVE_PASSWORD, "producer")]


def test_without_the_dead_letter_login_the_routes_use_the_service_s_own(
    monkeypatch: pytest.MonkeyPatch, logins: list[dict[str, Any]]
) -> None:
    api = admin_client(settings_from(monkeypatch, **SASL_SSL))
    with pytest.raises(_Built):
        api.get("/internal/v1/dead-letters")
    with pytest.raises(_Built):
        api.post("/internal/v1/dead-letters/redrive", json={})
    # The re-drive reads as the service and sends through its running runtime: no
    # runtime of its own is started.
    assert logins == [as_user("inventory", SERVICE_PASSWORD, "consumer")] * 2
