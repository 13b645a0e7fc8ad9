"""Who may do what on Kafka in Kubernetes: the broker requires TLS and SCRAM, each
service logs in as its own KafkaUser whose ACLs are exactly what its code does, and
its password comes from the Secret Strimzi writes, never from a ConfigMap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import certifi
import pytest
import yaml

from service_kit.settings import KafkaSettings
from ticketing_contracts import topics
from ticketing_contracts.topics import ALL_TOPICS

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
Manifest = dict[str, Any]
CLUSTER = "ticketing-kafka"
CLIENTS = ("booking-command", "inventory", "query-projection", "entry", "notifications")
# booking-command consumes nothing: it has no group and no dead letters of its own.
CONSUMERS = ("inventory", "query-projection", "entry", "notifications")
EVENT_TOPICS = {topics.CATALOG_EVENTS, topics.BOOKING_EVENTS, topics.INVENTORY_EVENTS}
READ = {"Read", "Describe"}
WRITE = {"Write", "Describe"}

Acls = set[tuple[str, str, str]]


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def grants(*rules: tuple[str, str, set[str]]) -> Acls:
    return {(kind, name, op) for kind, name, ops in rules for op in ops}


# What each service's code does (see the kit's runtime and each service's bootstrap).
EXPECTED_ACLS: dict[str, Acls] = {
    "booking-command": grants(
        ("topic", topics.CATALOG_EVENTS, WRITE),
        ("topic", topics.BOOKING_EVENTS, WRITE),
    ),
    "inventory": grants(
        ("topic", topics.BOOKING_EVENTS, READ),
        ("topic", topics.CATALOG_EVENTS, READ),  # without a group: no group ACL
        ("group", "inventory", {"Read"}),
        ("topic", topics.INVENTORY_EVENTS, WRITE),
        ("topic", topics.DEAD_LETTERS, WRITE),
    ),
    "query-projection": grants(
        ("topic", topics.CATALOG_EVENTS, READ),
        ("topic", topics.BOOKING_EVENTS, READ),
        ("topic", topics.INVENTORY_EVENTS, READ),
        ("group", "query-projection", {"Read"}),
        ("topic", topics.DEAD_LETTERS, WRITE),
    ),
    "entry": grants(
        ("topic", topics.CATALOG_EVENTS, READ),
        ("topic", topics.BOOKING_EVENTS, READ),
        ("group", "entry", {"Read"}),
        ("topic", topics.DEAD_LETTERS, WRITE),
    ),
    "notifications": grants(
        ("topic", topics.CATALOG_EVENTS, READ),
        ("topic", topics.BOOKING_EVENTS, READ),
        ("topic", topics.INVENTORY_EVENTS, READ),
        ("group", "notifications", {"Read"}),
        ("topic", topics.DEAD_LETTERS, WRITE),
    ),
    "dead-letter-redrive": grants(
        # Write: markers of dead letters re-driven one by one.
        ("topic", topics.DEAD_LETTERS, READ | WRITE),
        *(("group", f"{client}.dead-letter-redrive", {"Read"}) for client in CONSUMERS),
        *(("topic", topic, WRITE) for topic in EVENT_TOPICS),
    ),
}


def acls_of(user: Manifest) -> Acls:
    authorization = user["spec"]["authorization"]
    assert authorization["type"] == "simple"
    granted: Acls = set()
    for acl in authorization["acls"]:
        resource = acl["resource"]
        assert resource["patternType"] == "literal", resource
        assert acl.get("host", "*") == "*"
        granted |= {(resource["type"], resource["name"], op) for op in acl["operations"]}
    return granted


def kafka_cluster() -> Manifest:
    documents = yaml.safe_load_all((K8S / "kafka" / "kafka-cluster.yaml").read_text())
    (cluster,) = [doc for doc in documents if doc["kind"] == "Kafka"]
    assert isinstance(cluster, dict)
    return cluster


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_kafka_client_has_a_user_with_exactly_the_acls_it_needs(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    users = by_kind(rendered[overlay], "KafkaUser")
    assert set(users) == set(EXPECTED_ACLS)
    for name, user in users.items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == CLUSTER
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert acls_of(user) == EXPECTED_ACLS[name], name
    assert {topic for _, topic, _ in set().union(*EXPECTED_ACLS.values())} >= set(ALL_TOPICS)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_no_service_can_forge_what_it_consumes_or_read_dead_letters(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    acls = {name: acls_of(user) for name, user in by_kind(rendered[overlay], "KafkaUser").items()}
    written = {
        name: {topic for kind, topic, op in granted if kind == "topic" and op == "Write"}
        for name, granted in acls.items()
    }
    # A forged inventory.stock_changed would show fans tickets that are not there.
    assert written["inventory"] == {topics.INVENTORY_EVENTS, topics.DEAD_LETTERS}
    assert topics.INVENTORY_EVENTS not in written["booking-command"]
    assert written["query-projection"] == {topics.DEAD_LETTERS}
    assert written["entry"] == {topics.DEAD_LETTERS}
    assert written["notifications"] == {topics.DEAD_LETTERS}
    for name in CLIENTS:
        assert ("topic", topics.DEAD_LETTERS, "Read") not in acls[name], name
    for name, granted in acls.items():
        assert not {op for _, _, op in granted} & {"Create", "Delete", "Alter", "All"}, name


def test_the_only_kafka_listener_requires_tls_and_scram() -> None:
    spec = kafka_cluster()["spec"]
    listeners = spec["kafka"]["listeners"]
    assert listeners, "no listener"
    for listener in listeners:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"] == {"type": "scram-sha-512"}, listener["name"]
        peers = [peer["podSelector"]["matchLabels"] for peer in listener["networkPolicyPeers"]]
        assert peers == [
            {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "ticketing"}
            for name in CLIENTS
        ]
    assert spec["kafka"]["authorization"] == {"type": "simple"}
    assert "superUsers" not in spec["kafka"]["authorization"]
    assert "userOperator" in spec["entityOperator"]
    ports = {listener["port"] for listener in listeners}
    assert ports == {9093}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_each_kafka_client_logs_in_with_its_own_secret(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    manifests = rendered[overlay]
    config = by_kind(manifests, "ConfigMap")["ticketing-config"]["data"]
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["KAFKA_BOOTSTRAP_SERVERS"] == f"{CLUSTER}-kafka-bootstrap:9093"
    ca_directory = str(Path(config["KAFKA_SSL_CA_FILE"]).parent)
    deployments = by_kind(manifests, "Deployment")
    for name in CLIENTS:
        spec = deployments[name]["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env = {item["name"]: item for item in container["env"]}
        assert env["KAFKA_SASL_USERNAME"]["value"] == name
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": name, "key": "password"}
        }, name
        mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        (ca_volume,) = [m for m in mounts.values() if m["mountPath"] == ca_directory]
        assert ca_volume["readOnly"] is True
        assert volumes[ca_volume["name"]]["secret"]["secretName"] == f"{CLUSTER}-cluster-ca-cert"
    gateway = deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert not [item for item in gateway["env"] if item["name"].startswith("KAFKA_")]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_dead_letter_commands_log_in_as_dead_letter_redrive_with_its_secret(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """The admin dead-letter routes (and `dead-letters list|redrive` in the pod) need to
    read the dead-letter topic and write what the service consumes, which only the user
    dead-letter-redrive may."""
    manifests = rendered[overlay]
    assert "dead-letter-redrive" in by_kind(manifests, "KafkaUser")
    deployments = by_kind(manifests, "Deployment")
    for name in CLIENTS:
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        env = {item["name"]: item for item in container["env"]}
        assert env["DEAD_LETTER_KAFKA_USERNAME"] == {
            "name": "DEAD_LETTER_KAFKA_USERNAME",
            "value": "dead-letter-redrive",
        }, name
        assert env["DEAD_LETTER_KAFKA_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "dead-letter-redrive", "key": "password"}
        }, name
    for name, deployment in deployments.items():
        if name in CLIENTS:
            continue
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            names = {item["name"] for item in container.get("env", [])}
            assert not {n for n in names if n.startswith("DEAD_LETTER_KAFKA_")}, name


def test_the_rendered_kafka_settings_pass_the_production_start_up_check(
    rendered: dict[str, list[Manifest]],
) -> None:
    config = dict(by_kind(rendered["prod"], "ConfigMap")["ticketing-config"]["data"])
    # The CA file exists only in the pod; any readable PEM bundle stands in for it here.
    config["KAFKA_SSL_CA_FILE"] = certifi.where()
    inventory = by_kind(rendered["prod"], "Deployment")["inventory"]
    (container,) = inventory["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    settings = KafkaSettings(
        _env_file=None,
        **{key.lower(): value for key, value in config.items()},
        kafka_sasl_username=env["KAFKA_SASL_USERNAME"]["value"],
        kafka_sasl_password="generated-by-the-user-operator-Vq8Zt3Lm1X",
        dead_letter_kafka_username=env["DEAD_LETTER_KAFKA_USERNAME"]["value"],
        dead_letter_kafka_password="generated-by-the-user-operator-Hb5Rk2Wq7Z",
    )
    assert settings.is_production
    assert settings.kafka_uses_sasl
    assert settings.kafka_uses_tls
    assert not settings.kafka_allow_plaintext
    assert settings.dead_letter_kafka_settings().kafka_sasl_username == "dead-letter-redrive"
