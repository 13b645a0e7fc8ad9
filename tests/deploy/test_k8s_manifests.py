"""The kustomize overlays render, validate against the Kubernetes schemas offline,
and every workload carries what an SRE relies on (probes, limits, security, PDB)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from ticketing_contracts.topics import ALL_TOPICS, DEFAULT_PARTITIONS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
Manifest = dict[str, Any]

SERVICES = {
    "gateway": 8000,
    "booking-command": 8001,
    "inventory": 8002,
    "query-projection": 8003,
    "entry": 8004,
    "notifications": 8005,
}
# The shop and console: pages and a backend-for-frontend that calls only the gateway.
WEB = "web"
WORKLOADS = SERVICES | {WEB: 8080}
# Stands for the external payment provider in dev (and staging) only; prod charges a real one.
SIMULATOR = "payment-simulator"


def deployments_in(overlay: str) -> dict[str, int]:
    return WORKLOADS | ({SIMULATOR: 8010} if overlay == "dev" else {})


CONSUMERS = ("booking-command", "inventory", "query-projection", "entry", "notifications")
STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)
# Custom resources have no schema in kubernetes-validate; these check the fields we use.
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "KafkaTopic": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
            "metadata": {
                "type": "object",
                "required": ["name", "labels"],
                "properties": {
                    "labels": {"type": "object", "required": ["strimzi.io/cluster"]},
                },
            },
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["topicName", "partitions", "replicas", "config"],
                "properties": {
                    "topicName": {"type": "string"},
                    "partitions": {"type": "integer", "minimum": 1},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                    "config": {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "integer", "boolean"]},
                    },
                },
            },
        },
    },
    "KafkaUser": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
            "metadata": {
                "type": "object",
                "required": ["name", "labels"],
                "properties": {
                    "labels": {"type": "object", "required": ["strimzi.io/cluster"]},
                },
            },
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["authentication", "authorization"],
                "properties": {
                    "authentication": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"type": {"enum": ["scram-sha-512", "tls"]}},
                    },
                    "authorization": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "acls"],
                        "properties": {
                            "type": {"const": "simple"},
                            "acls": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["resource", "operations"],
                                    "properties": {
                                        "resource": {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "required": ["type", "name", "patternType"],
                                            "properties": {
                                                "type": {"enum": ["topic", "group"]},
                                                "name": {"type": "string"},
                                                "patternType": {"enum": ["literal", "prefix"]},
                                            },
                                        },
                                        "operations": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {
                                                "enum": [
                                                    "Read",
                                                    "Write",
                                                    "Create",
                                                    "Delete",
                                                    "Alter",
                                                    "Describe",
                                                    "All",
                                                    "IdempotentWrite",
                                                    "ClusterAction",
                                                    "AlterConfigs",
                                                    "DescribeConfigs",
                                                ]
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    # CloudNativePG (components/event-store-pitr, jobs/recover-event-store.yaml).
    "Cluster": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "postgresql.cnpg.io/v1"},
            "spec": {
                "type": "object",
                "required": ["instances", "imageName", "storage", "bootstrap", "backup"],
                "properties": {
                    "instances": {"type": "integer", "minimum": 1},
                    "minSyncReplicas": {"type": "integer", "minimum": 0},
                    "maxSyncReplicas": {"type": "integer", "minimum": 0},
                    "postgresql": {
                        "type": "object",
                        "properties": {
                            "parameters": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            }
                        },
                    },
                    "bootstrap": {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "maxProperties": 1,
                        "properties": {
                            "initdb": {
                                "type": "object",
                                "required": ["database", "owner"],
                            },
                            "recovery": {
                                "type": "object",
                                "required": ["source", "recoveryTarget"],
                                "properties": {
                                    "recoveryTarget": {
                                        "type": "object",
                                        "required": ["targetTime"],
                                        "properties": {"targetTime": {"type": "string"}},
                                    }
                                },
                            },
                        },
                    },
                    "backup": {
                        "type": "object",
                        "required": ["retentionPolicy", "barmanObjectStore"],
                        "properties": {
                            "retentionPolicy": {"type": "string", "pattern": "^[0-9]+[dwm]$"},
                            "barmanObjectStore": {
                                "type": "object",
                                "required": ["destinationPath", "s3Credentials", "wal"],
                                "properties": {
                                    "destinationPath": {"type": "string", "pattern": "^s3://"},
                                },
                            },
                        },
                    },
                    "externalClusters": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "barmanObjectStore"],
                        },
                    },
                },
            },
        },
    },
    "ScheduledBackup": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "postgresql.cnpg.io/v1"},
            "spec": {
                "type": "object",
                "required": ["schedule", "cluster", "method"],
                "properties": {
                    # CloudNativePG's cron has six fields, seconds first.
                    "schedule": {"type": "string", "pattern": "^(\\S+ ){5}\\S+$"},
                    "cluster": {"type": "object", "required": ["name"]},
                    "method": {"const": "barmanObjectStore"},
                },
            },
        },
    },
    "ServiceMonitor": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["selector", "endpoints"],
                "properties": {
                    "selector": {"type": "object"},
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["port", "path"],
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "interval": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                                "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                            },
                        },
                    },
                },
            },
        },
    },
    "PrometheusRule": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["groups"],
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "rules"],
                            "properties": {
                                "name": {"type": "string"},
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["alert", "expr", "labels", "annotations"],
                                        "properties": {
                                            "alert": {
                                                "type": "string",
                                                "pattern": "^[A-Za-z][A-Za-z0-9]*$",
                                            },
                                            "expr": {"type": "string"},
                                            "for": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                                            "labels": {
                                                "type": "object",
                                                "required": ["severity"],
                                                "properties": {
                                                    "severity": {"enum": ["warning", "critical"]}
                                                },
                                            },
                                            "annotations": {
                                                "type": "object",
                                                "required": ["summary", "description", "runbook"],
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            },
        },
    },
}


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod_spec(workload: Manifest) -> Manifest:
    if workload["kind"] == "CronJob":
        spec: Manifest = workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    template_spec: Manifest = workload["spec"]["template"]["spec"]
    return template_spec


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_resource_matches_its_schema(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    problems = []
    for manifest in rendered[overlay]:
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        if manifest["kind"] in CRD_SCHEMAS:
            validator = jsonschema.Draft202012Validator(CRD_SCHEMAS[manifest["kind"]])
            problems += [f"{name}: {error.message}" for error in validator.iter_errors(manifest)]
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{name}: {error.message} at {list(error.path)}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"{name}: {error.message}")
    assert not problems, "\n".join(problems)


def test_manifests_outside_the_overlays_are_valid_too() -> None:
    restore = yaml.safe_load((K8S / "jobs" / "restore-job.yaml").read_text())
    kubernetes_validate.validate(restore, KUBERNETES_VERSION, strict=True)
    kinds = [
        doc["kind"]
        for doc in yaml.safe_load_all((K8S / "kafka" / "kafka-cluster.yaml").read_text())
    ]
    assert kinds == ["KafkaNodePool", "Kafka"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_deployment_is_operable(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    deployments = by_kind(manifests, "Deployment")
    ports = deployments_in(overlay)
    assert set(deployments) == set(ports)
    configs = by_kind(manifests, "ConfigMap")
    grace = int(configs["ticketing-config"]["data"]["SHUTDOWN_GRACE_SECONDS"])
    pdbs = list(by_kind(manifests, "PodDisruptionBudget").values())
    services = by_kind(manifests, "Service")
    # The Kafka users' passwords, written by Strimzi's User Operator.
    strimzi_secrets = set(by_kind(manifests, "KafkaUser"))

    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        for label in STANDARD_LABELS:
            assert label in deployment["metadata"]["labels"], (name, label)
            assert label in labels, (name, label)
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["topologySpreadConstraints"], name
        assert spec["automountServiceAccountToken"] is False, name
        (container,) = spec["containers"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
        assert container["ports"] == [
            {"name": "http", "containerPort": ports[name], "protocol": "TCP"}
        ]
        probes = {
            probe: container[probe]["httpGet"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        assert probes["startupProbe"]["path"] == "/health/live", name
        assert probes["livenessProbe"]["path"] == "/health/live", name
        assert probes["readinessProbe"]["path"] == "/health/ready", name
        assert all(probe["port"] == "http" for probe in probes.values()), name
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep", name
        # preStop sleep + drain + time to close pools/consumers must fit in the grace period.
        assert spec["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + grace + 5, name
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert env["HTTP_PORT"] == str(ports[name])
        secrets_read = {
            item["valueFrom"]["secretKeyRef"]["name"]
            for item in container["env"]
            if "secretKeyRef" in item.get("valueFrom", {})
        } - strimzi_secrets
        # web holds no secret: the gateway's tokens live only in the browser's cookie.
        assert secrets_read == (set() if name == WEB else {f"{name}-secrets"}), name
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        writable_tmp = "/tmp"  # noqa: S108
        assert writable_tmp in mounts, f"{name}: read-only root needs a writable /tmp"

        selected = [
            pdb for pdb in pdbs if pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selected) == 1, f"{name}: needs exactly one PodDisruptionBudget"
        assert services[name]["spec"]["selector"].items() <= labels.items()


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_no_secret_is_committed(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    assert not by_kind(rendered[overlay], "Secret")
    for config in by_kind(rendered[overlay], "ConfigMap").values():
        for key in config.get("data", {}):
            # Values that are secrets; PASSWORD_HASH_* are hashing parameters, not secrets.
            assert not re.search(r"(PASSWORD|SECRET|PRIVATE_KEY)$|DATABASE_URL|REDIS_URL", key), key


def test_prod_runs_in_production_mode_with_idempotent_producers_and_secure_cookies(
    rendered: dict[str, list[Manifest]],
) -> None:
    configs = by_kind(rendered["prod"], "ConfigMap")
    assert configs["ticketing-config"]["data"]["ENVIRONMENT"] == "production"
    assert configs["ticketing-config"]["data"]["KAFKA_IDEMPOTENT_PRODUCER"] == "true"
    assert configs["web-config"]["data"]["COOKIE_SECURE"] == "true"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_gateway_and_web_see_the_real_client_address(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """web passes each person's address on in X-Forwarded-For: the gateway trusts it from
    the pod network (web pods and the ingress controller), and web from the controller."""
    configs = by_kind(rendered[overlay], "ConfigMap")
    deployments = by_kind(rendered[overlay], "Deployment")
    for name in ("gateway", WEB):
        (container,) = pod_spec(deployments[name])["containers"]
        config_names = [
            ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref
        ]
        assert f"{name}-config" in config_names, name
        trusted = configs[f"{name}-config"]["data"]["FORWARDED_ALLOW_IPS"]
        assert trusted not in ("", "*"), name
        assert all(ipaddress.ip_network(part.strip()) for part in trusted.split(",")), name


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_scaling_respects_the_partition_count(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    manifests = rendered[overlay]
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    assert set(hpas) == {"gateway", "query-projection"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpas["query-projection"]["spec"]["maxReplicas"] <= DEFAULT_PARTITIONS
    deployments = by_kind(manifests, "Deployment")
    for name in CONSUMERS:
        assert deployments[name]["spec"].get("replicas", 1) <= DEFAULT_PARTITIONS
    for name in hpas:
        assert "replicas" not in deployments[name]["spec"], f"{name}: the HPA owns replicas"


def test_prod_is_highly_available(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["prod"]
    deployments = by_kind(manifests, "Deployment")
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    for name in ("booking-command", "inventory"):
        assert deployments[name]["spec"]["replicas"] >= 3
    for hpa in hpas.values():
        assert hpa["spec"]["minReplicas"] >= 3
    namespaces = by_kind(manifests, "Namespace")
    assert namespaces["ticketing"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )


@pytest.mark.parametrize(("overlay", "replicas", "min_isr"), [("dev", 1, "1"), ("prod", 3, "2")])
def test_kafka_topics(
    rendered: dict[str, list[Manifest]], overlay: str, replicas: int, min_isr: str
) -> None:
    topics = {t["spec"]["topicName"]: t for t in by_kind(rendered[overlay], "KafkaTopic").values()}
    assert set(topics) == set(ALL_TOPICS)
    for topic in topics.values():
        assert topic["spec"]["partitions"] == DEFAULT_PARTITIONS
        assert topic["spec"]["replicas"] == replicas
        assert topic["spec"]["config"]["min.insync.replicas"] == min_isr
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "ticketing-kafka"


# Who calls an internal service besides the gateway, with its own token (callee -> callers).
SERVICE_CALLERS = {
    "booking-command": ["inventory"],
    "inventory": ["booking-command"],
    # booking-command's reconciliation after a restore of its event store.
    "query-projection": ["booking-command"],
}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_network_policies_deny_by_default_and_admit_outsiders_only_at_the_public_edge(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """Who may call whom inside the namespace, and which egress each service has, follow from
    the settings (test_k8s_wiring.py); this checks what settings cannot say."""
    policies = by_kind(rendered[overlay], "NetworkPolicy")
    deny = policies["default-deny-all"]["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny

    # Only the gateway and web admit traffic from outside the namespace (besides Prometheus).
    for name in WORKLOADS:
        policy = policies[f"{name}-ingress"]
        peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        outside = [
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for peer in peers
            if "namespaceSelector" in peer
        ]
        public = name in ("gateway", WEB)
        expected = ["ingress-nginx", "monitoring"] if public else ["monitoring"]
        assert outside == expected, name
    # The backup job has no settings class: it reaches PostgreSQL and nothing else.
    (backup,) = policies["postgres-backup-egress"]["spec"]["egress"]
    assert backup == {"ports": [{"port": 5432, "protocol": "TCP"}]}


def _secret_commands(readme: str) -> dict[str, dict[str, str]]:
    """Secret name -> {key: value} of each `kubectl create secret generic` in the README."""
    commands: dict[str, dict[str, str]] = {}
    for block in re.findall(r"create secret generic (\S+) \\\n((?:.*\\\n)*.*\n)", readme):
        name, lines = block
        commands[name] = dict(re.findall(r'--from-literal=(\w+)="?([^"\s]*)"?', lines))
    return commands


def test_the_readme_gives_each_calling_service_its_own_key_and_the_other_its_public_half() -> None:
    from service_kit.internal_auth import key_pair_variables, service_key_names

    readme = (K8S / "README.md").read_text()
    commands = _secret_commands(readme)
    for callee, callers in SERVICE_CALLERS.items():
        for caller in callers:
            assert f"python -m service_kit.internal_auth {caller}" in readme
            private, public = service_key_names(caller)
            assert set(key_pair_variables(caller)) == {private, public}
            assert commands[f"{caller}-secrets"]["SERVICE_TOKEN_PRIVATE_KEY"] == f"${private}"
            assert commands[f"{callee}-secrets"]["TRUSTED_SERVICE_KEYS"] == f"{caller}=${public}"
            assert f"`{caller}-secrets` | " in readme
    for name, keys in commands.items():
        private_keys = [value for key, value in keys.items() if key.endswith("PRIVATE_KEY")]
        expected = {
            "gateway-secrets": ["$INTERNAL_TOKEN_PRIVATE_KEY"],
            "booking-command-secrets": ["$BOOKING_COMMAND_SERVICE_TOKEN_PRIVATE_KEY"],
            "inventory-secrets": ["$INVENTORY_SERVICE_TOKEN_PRIVATE_KEY"],
            "notifications-secrets": ["$NOTIFICATIONS_SERVICE_TOKEN_PRIVATE_KEY"],
        }.get(name, [])
        assert private_keys == expected, f"{name} must hold its own private key only"
    table = dict(re.findall(r"^\| `([\w-]+-secrets)`[^|]*\|(.*)\|$", readme, re.MULTILINE))
    for name, keys in commands.items():
        for key in keys:
            assert f"`{key}`" in table[name], f"the table of {name} lacks {key}"


def test_booking_command_charges_the_simulator_in_dev_and_a_real_provider_in_prod(
    rendered: dict[str, list[Manifest]],
) -> None:
    def provider_url(overlay: str) -> str:
        deployment = by_kind(rendered[overlay], "Deployment")["booking-command"]
        (container,) = pod_spec(deployment)["containers"]
        config_names = [
            ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref
        ]
        assert "payment-provider-config" in config_names
        config = by_kind(rendered[overlay], "ConfigMap")["payment-provider-config"]
        url: str = config["data"]["PAYMENT_PROVIDER_URL"]
        return url

    # Reaching them (and only them) follows from the settings: test_k8s_wiring.py.
    assert provider_url("dev") == "http://payment-simulator:8010"
    assert provider_url("prod").startswith("https://")
    assert SIMULATOR not in by_kind(rendered["prod"], "Service")
    assert "payment-simulator-secrets" not in str(rendered["prod"])


# Every path web serves to browsers; its /metrics, detailed health and docs stay inside.
WEB_PATHS = {
    ("/", "Exact"),
    ("/console", "Exact"),
    ("/scanner", "Exact"),
    ("/offers/", "Prefix"),
    ("/static/", "Prefix"),
    ("/session", "Prefix"),
    ("/api/", "Prefix"),
    ("/health/live", "Exact"),
}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_ingress_is_tls_to_web_for_browsers_and_the_gateway_for_api_clients(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    ingresses = by_kind(rendered[overlay], "Ingress")
    assert sorted(ingresses) == ["gateway", WEB]
    hosts_of: dict[str, set[str]] = {}
    for name, ingress in ingresses.items():
        spec = ingress["spec"]
        hosts = {rule["host"] for rule in spec["rules"]}
        assert hosts <= {host for tls in spec["tls"] for host in tls["hosts"]}, name
        backends = {
            path["backend"]["service"]["name"]
            for rule in spec["rules"]
            for path in rule["http"]["paths"]
        }
        # Each Ingress routes to its own Service only, never to an internal one.
        assert backends == {name}, name
        hosts_of[name] = hosts
    # Both answer /api/v1/* (cookie session vs bearer token): they need their own hosts.
    assert not hosts_of["gateway"] & hosts_of[WEB]
    web_paths = {
        (path["path"], path["pathType"])
        for rule in ingresses[WEB]["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert web_paths == WEB_PATHS
    assert all(route in WEB_PATHS for route in _web_routes())
    for service in by_kind(rendered[overlay], "Service").values():
        assert service["spec"]["type"] == "ClusterIP"


def _web_routes() -> list[tuple[str, str]]:
    """The browser-facing routes web serves, as the Ingress path that must carry each."""
    from ticketing_web.entrypoints.http import pages, proxy, session

    routes = [("/static/", "Prefix"), ("/health/live", "Exact")]
    for router in (pages.router, proxy.router, session.router):
        for route in router.routes:
            path: str = getattr(route, "path", "")
            if path in ("/", "/console", "/scanner"):
                routes.append((path, "Exact"))
            elif path.startswith("/session"):
                routes.append(("/session", "Prefix"))
            else:
                routes.append(("/" + path.strip("/").split("/")[0] + "/", "Prefix"))
    return routes


def test_backup_cronjob_uses_the_tested_scripts(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["prod"]
    cronjob = by_kind(manifests, "CronJob")["postgres-backup"]
    spec = pod_spec(cronjob)
    (container,) = spec["containers"]
    assert container["command"] == ["sh", "/scripts/backup.sh"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {item["name"]: item["value"] for item in container["env"]}
    assert "ticketing_booking" in env["BACKUP_DATABASES"].split()
    scripts = by_kind(manifests, "ConfigMap")["postgres-backup-scripts"]["data"]
    base = K8S / "base" / "backup"
    assert scripts["backup.sh"] == (base / "backup.sh").read_text()
    assert scripts["restore.sh"] == (base / "restore.sh").read_text()
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert by_kind(rendered["dev"], "CronJob")["postgres-backup"]["spec"]["suspend"] is True
