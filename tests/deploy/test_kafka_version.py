"""Local runs and tests, docker compose and Kubernetes run the same Apache Kafka release."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
POM_NAMESPACE = {"pom": "http://maven.apache.org/POM/4.0.0"}


def local_kafka_version() -> str:
    # Our own checked-in file, not untrusted input.
    pom = ElementTree.parse(ROOT / "libs" / "local-infra" / "kafka" / "pom.xml")  # noqa: S314
    version = pom.find("pom:properties/pom:kafka.version", POM_NAMESPACE)
    assert version is not None, "the pom pins no kafka.version"
    assert version.text, "the pom's kafka.version is empty"
    return version.text


def test_the_local_broker_is_an_apache_kafka_4_release() -> None:
    assert local_kafka_version().split(".")[0] == "4"


def test_docker_compose_runs_the_kafka_release_the_tests_run() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    images = {
        service["image"]
        for service in compose["services"].values()
        if str(service.get("image", "")).startswith("apache/kafka:")
    }
    assert images == {f"apache/kafka:{local_kafka_version()}"}


def test_the_strimzi_cluster_runs_the_kafka_release_the_tests_run() -> None:
    manifests = yaml.safe_load_all((ROOT / "deploy/k8s/kafka/kafka-cluster.yaml").read_text())
    [cluster] = [manifest for manifest in manifests if manifest["kind"] == "Kafka"]
    version = local_kafka_version()
    assert cluster["spec"]["kafka"]["version"] == version
    major_minor = ".".join(version.split(".")[:2])
    assert cluster["spec"]["kafka"]["metadataVersion"].startswith(f"{major_minor}-")
