"""Every overlay gives each service the settings it needs and lets it reach what they name.

Derived from the settings classes (`services/*/src/*/settings.py`, and the simulators'),
not from a list kept here. A setting is needed when it has no default, when it is marked
with what it connects to (`Annotated[RedisDsn, Dependency.REDIS]`, service_kit.settings),
or when its default names a loopback address (it works only on a developer's machine).
A Deployment is matched to its settings class by name: the class's SERVICE_NAME default.
"""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic.types import PathType

from service_kit.settings import Dependency, ServiceSettings, setting_dependencies

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
Manifest = dict[str, Any]

LOOPBACK = re.compile(r"(?<![\w.-])(localhost|127(?:\.\d{1,3}){3}|\[?::1\]?)(?![\w.-])")
# The port a URL means when it names none (the URL schemes' own defaults).
SCHEME_PORTS = {
    "http": 80,
    "https": 443,
    "postgres": 5432,
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "smtp": 587,
    "smtps": 465,
}
# Strimzi names a cluster's bootstrap Service `<cluster>-kafka-bootstrap` and labels its
# broker pods like this (the selector a NetworkPolicy uses to reach them).
STRIMZI_BOOTSTRAP = re.compile(r"^(?P<cluster>[a-z0-9-]+)-kafka-bootstrap$")


def strimzi_broker_labels(cluster: str) -> dict[str, str]:
    return {
        "strimzi.io/cluster": cluster,
        "strimzi.io/kind": "Kafka",
        "strimzi.io/name": f"{cluster}-kafka",
    }


# -- the settings classes ----------------------------------------------------------------


def settings_classes() -> dict[str, tuple[str, type[ServiceSettings]]]:
    """Service name (its SERVICE_NAME default, also its Deployment's name) -> the folder it
    lives in (services, simulators) and its settings class."""
    classes: dict[str, tuple[str, type[ServiceSettings]]] = {}
    for folder in ("services", "simulators"):
        for path in sorted((ROOT / folder).glob("*/src/*/settings.py")):
            module = importlib.import_module(f"{path.parent.name}.settings")
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, ServiceSettings)
                    and value.__module__ == module.__name__
                ):
                    classes[value.model_fields["service_name"].default] = (folder, value)
    return classes


_FOUND = settings_classes()
SETTINGS = {name: settings for name, (_, settings) in _FOUND.items()}
# Simulators stand in for outside systems, in the overlays that include them.
SERVICES_DEPLOYED_EVERYWHERE = {name for name, (where, _) in _FOUND.items() if where == "services"}


def env_names(settings: type[ServiceSettings], name: str, field: FieldInfo) -> set[str]:
    """The environment variables pydantic-settings reads a field from."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return {alias.upper()}
    if isinstance(alias, AliasChoices):
        return {choice.upper() for choice in alias.choices if isinstance(choice, str)}
    return {(settings.model_config.get("env_prefix", "") + name).upper()}


def default_text(field: FieldInfo) -> str | None:
    if field.is_required():
        return None
    default = field.get_default(call_default_factory=True)
    return None if default is None else str(default)


@dataclass(frozen=True)
class Setting:
    field: str
    env: frozenset[str]
    dependency: Dependency | None
    default: str | None
    needed_because: str | None  # None: the service starts well without it

    @property
    def label(self) -> str:
        return "/".join(sorted(self.env))


def settings_of(settings: type[ServiceSettings]) -> list[Setting]:
    dependencies = setting_dependencies(settings)
    result = []
    for name, field in settings.model_fields.items():
        default = default_text(field)
        dependency = dependencies.get(name)
        reason = None
        if field.is_required():
            reason = "it has no default"
        elif default is not None and LOOPBACK.search(default):
            reason = f"its default {default} works only on a developer's machine"
        elif dependency is not None and default is not None:
            reason = f"it connects to {dependency}"
        env = frozenset(env_names(settings, name, field))
        result.append(Setting(name, env, dependency, default, reason))
    return result


def is_file_path(annotation: object) -> bool:
    """FilePath (alone, optional or annotated): a file the service opens at start."""
    metadata: tuple[object, ...] = getattr(annotation, "__metadata__", ())
    if any(isinstance(item, PathType) and item.path_type == "file" for item in metadata):
        return True
    return any(is_file_path(argument) for argument in typing.get_args(annotation))


# -- what a container receives ---------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    source: str
    text: str | None  # None: kept in a Secret created out of band, unknown here


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def only_container(deployment: Manifest) -> Manifest:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    result: Manifest = container
    return result


def pod_labels(deployment: Manifest) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def container_environment(
    container: Manifest, manifests: list[Manifest]
) -> tuple[dict[str, Value], list[str]]:
    """Variable -> where its value comes from, as the kubelet builds it; and the references
    that would keep the pod from starting (a ConfigMap or key the overlay lacks)."""
    configs = by_kind(manifests, "ConfigMap")
    secrets = by_kind(manifests, "Secret")
    environment: dict[str, Value] = {}
    problems: list[str] = []
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            reference = source["configMapRef"]
            config = configs.get(reference["name"])
            if config is None:
                if not reference.get("optional"):
                    problems.append(f"envFrom ConfigMap {reference['name']} is not in the overlay")
                continue
            for key, text in config.get("data", {}).items():
                environment[prefix + key] = Value(f"ConfigMap {reference['name']}", str(text))
        elif "secretRef" in source:
            # An out-of-band Secret read whole: its keys are unknown here, so nothing counts
            # as provided by it (name each key with secretKeyRef instead).
            secret_name = source["secretRef"]["name"]
            for key in secrets.get(secret_name, {}).get("data", {}):
                environment[prefix + key] = Value(f"Secret {secret_name}", None)
    for item in container.get("env", []):
        name = item["name"]
        if "valueFrom" not in item:
            environment[name] = Value("the Deployment", str(item.get("value", "")))
            continue
        reference = item["valueFrom"]
        if "configMapKeyRef" in reference:
            ref = reference["configMapKeyRef"]
            data = configs.get(ref["name"], {}).get("data", {})
            if ref["key"] in data:
                environment[name] = Value(f"ConfigMap {ref['name']}", str(data[ref["key"]]))
            elif not ref.get("optional"):
                problems.append(f"{name}: ConfigMap {ref['name']} has no key {ref['key']}")
        elif "secretKeyRef" in reference:
            ref = reference["secretKeyRef"]
            if ref["name"] in secrets and ref["key"] not in secrets[ref["name"]].get("data", {}):
                if not ref.get("optional"):
                    problems.append(f"{name}: Secret {ref['name']} has no key {ref['key']}")
            elif not ref.get("optional"):
                environment[name] = Value(f"Secret {ref['name']}, key {ref['key']}", None)
        else:
            environment[name] = Value("the pod's own fields", None)
    return environment, problems


# -- where an address leads, and what the NetworkPolicies let through -------------------------


@dataclass(frozen=True)
class Destination:
    """Where a setting's address leads: pods of this namespace (`pods`), somewhere outside
    the cluster (`outside`), or unknown here (an address kept in a Secret)."""

    address: str
    port: int
    pods: dict[str, str] | None = None
    pod_ports: tuple[Manifest, ...] = ()
    outside: bool = False
    callee: str | None = None  # the Deployment behind it, for its ingress policies


def hosts_and_ports(dependency: Dependency, text: str) -> list[tuple[str | None, int]]:
    if dependency is Dependency.KAFKA:
        servers = [part.strip() for part in text.split(",") if part.strip()]
        return [(host, int(port)) for host, _, port in (s.rpartition(":") for s in servers)]
    url = urlsplit(text)
    port = url.port or SCHEME_PORTS[url.scheme]
    return [(url.hostname, port)]


def destinations(
    setting: Setting, value: Value, manifests: list[Manifest]
) -> tuple[list[Destination], list[str]]:
    assert setting.dependency is not None
    if value.text is None:
        # Kept in a Secret: the host is unknown; the port is the one the default names.
        assert setting.default is not None, setting
        ports = [port for _, port in hosts_and_ports(setting.dependency, setting.default)]
        return [Destination(f"{value.source}, port {port}", port) for port in ports], []
    services = by_kind(manifests, "Service")
    deployments = by_kind(manifests, "Deployment")
    clusters = {
        m["metadata"]["labels"]["strimzi.io/cluster"]
        for m in manifests
        if m["kind"] in ("KafkaTopic", "KafkaUser")
    }
    found: list[Destination] = []
    problems: list[str] = []
    for host, port in hosts_and_ports(setting.dependency, value.text):
        address = f"{host}:{port}"
        if host is None or LOOPBACK.search(host):
            problems.append(f"{setting.label}={value.text} points at this pod itself")
            continue
        short = host.split(".")[0]
        bootstrap = STRIMZI_BOOTSTRAP.match(short)
        if short in services:
            service = services[short]
            matching = [p for p in service["spec"]["ports"] if p["port"] == port]
            backends = [
                (name, d)
                for name, d in deployments.items()
                if service["spec"]["selector"].items() <= pod_labels(d).items()
            ]
            if not matching or len(backends) != 1:
                problems.append(
                    f"{setting.label}={value.text}: Service {short} has no port {port} "
                    "in front of one Deployment"
                )
                continue
            callee, deployment = backends[0]
            target = matching[0].get("targetPort", port)
            container_ports = tuple(only_container(deployment).get("ports", []))
            if isinstance(target, str):
                target = next(
                    item["containerPort"] for item in container_ports if item.get("name") == target
                )
            found.append(
                Destination(address, target, pod_labels(deployment), container_ports, callee=callee)
            )
        elif bootstrap and bootstrap["cluster"] in clusters:
            labels = strimzi_broker_labels(bootstrap["cluster"])
            found.append(Destination(address, port, labels, callee=f"kafka:{bootstrap['cluster']}"))
        elif "." in host and not host.endswith((".svc", ".svc.cluster.local")):
            found.append(Destination(address, port, outside=True))
        else:
            problems.append(f"{setting.label}={value.text}: no Service {short} in the overlay")
    return found, problems


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def port_matches(rule: Manifest, port: int, named_ports: tuple[Manifest, ...]) -> bool:
    if not rule.get("ports"):
        return True
    for item in rule["ports"]:
        if item.get("protocol", "TCP") != "TCP":
            continue
        wanted = item.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            wanted = next(
                (p["containerPort"] for p in named_ports if p.get("name") == wanted), None
            )
        if wanted is not None and wanted <= port <= item.get("endPort", wanted):
            return True
    return False


def peer_matches(peer: Manifest, destination: Destination, namespace: str) -> bool:
    if "ipBlock" in peer:
        return destination.outside
    if destination.pods is None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": namespace}
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    return selects(peer.get("podSelector", {}), destination.pods)


def policies_for(
    manifests: list[Manifest], labels: dict[str, str], direction: str
) -> list[Manifest]:
    return [
        policy
        for policy in by_kind(manifests, "NetworkPolicy").values()
        if direction in policy["spec"].get("policyTypes", ["Ingress"])
        and selects(policy["spec"]["podSelector"], labels)
    ]


def egress_rules_to(
    manifests: list[Manifest], labels: dict[str, str], destination: Destination, namespace: str
) -> list[tuple[str, int]] | None:
    """The egress rules (policy, index) that let these pods reach `destination`; None when no
    policy restricts their egress at all."""
    policies = policies_for(manifests, labels, "Egress")
    if not policies:
        return None
    allowed = []
    for policy in policies:
        for index, rule in enumerate(policy["spec"].get("egress", [])):
            if not port_matches(rule, destination.port, destination.pod_ports):
                continue
            peers = rule.get("to", [])
            unknown = destination.pods is None and not destination.outside
            if (
                not peers
                or unknown
                or any(peer_matches(peer, destination, namespace) for peer in peers)
            ):
                allowed.append((policy["metadata"]["name"], index))
    return allowed


def ingress_admits(
    manifests: list[Manifest], caller: dict[str, str], destination: Destination, namespace: str
) -> bool:
    assert destination.pods is not None
    policies = policies_for(manifests, destination.pods, "Ingress")
    if not policies:
        return True
    caller_as_peer = Destination("caller", 0, caller)
    return any(
        port_matches(rule, destination.port, destination.pod_ports)
        and (
            not rule.get("from")
            or any(peer_matches(peer, caller_as_peer, namespace) for peer in rule["from"])
        )
        for policy in policies
        for rule in policy["spec"].get("ingress", [])
    )


def kafka_listener_admits(cluster: str, port: int, caller: dict[str, str]) -> bool:
    """Strimzi turns a listener's networkPolicyPeers into the brokers' ingress policy."""
    documents = yaml.safe_load_all((K8S / "kafka" / "kafka-cluster.yaml").read_text())
    (kafka,) = [d for d in documents if d["kind"] == "Kafka" and d["metadata"]["name"] == cluster]
    listeners = [item for item in kafka["spec"]["kafka"]["listeners"] if item["port"] == port]
    return any(
        not listener.get("networkPolicyPeers")
        or any(
            selects(peer.get("podSelector", {}), caller) for peer in listener["networkPolicyPeers"]
        )
        for listener in listeners
    )


# -- the checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    name: str
    settings: type[ServiceSettings]
    deployment: Manifest
    environment: dict[str, Value]
    problems: tuple[str, ...]

    def value_of(self, setting: Setting) -> Value | None:
        found = [self.environment[name] for name in setting.env if name in self.environment]
        return found[0] if found else None


def services_in(manifests: list[Manifest]) -> Iterator[Service]:
    for name, deployment in by_kind(manifests, "Deployment").items():
        environment, problems = container_environment(only_container(deployment), manifests)
        yield Service(name, SETTINGS[name], deployment, environment, tuple(problems))


def namespace_of(manifests: list[Manifest]) -> str:
    namespace: str = by_kind(manifests, "Deployment")["gateway"]["metadata"]["namespace"]
    return namespace


def test_settings_classes_are_found_and_say_what_they_connect_to() -> None:
    """Guards the derivation itself: if no class were found or no field marked, every other
    check here would pass on nothing."""
    assert {"gateway", "booking-command", "inventory", "query-projection", "web"} <= set(
        SERVICES_DEPLOYED_EVERYWHERE
    )
    marked = {name: set(setting_dependencies(SETTINGS[name]).values()) for name in SETTINGS}
    assert Dependency.REDIS in marked["booking-command"]
    assert Dependency.HTTP in marked["web"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_deployed_and_every_deployment_is_a_service(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    deployments = set(by_kind(rendered[overlay], "Deployment"))
    assert deployments <= set(SETTINGS), f"no settings class for {deployments - set(SETTINGS)}"
    assert deployments >= SERVICES_DEPLOYED_EVERYWHERE


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_gets_every_setting_it_needs(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    problems: list[str] = []
    for service in services_in(rendered[overlay]):
        problems += [f"{service.name}: {problem}" for problem in service.problems]
        for setting in settings_of(service.settings):
            value = service.value_of(setting)
            if value is None:
                if setting.needed_because:
                    problems.append(
                        f"{service.name}: {setting.label} is not set: {setting.needed_because}"
                    )
                continue
            if value.text is not None and setting.needed_because and LOOPBACK.search(value.text):
                problems.append(
                    f"{service.name}: {setting.label}={value.text} ({value.source}) names a "
                    "loopback address"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_given_to_a_service_is_a_setting_it_reads(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """A misspelt or retired name is read by no one: the service silently uses its default."""
    problems: list[str] = []
    readers: dict[str, set[str]] = {}
    for service in services_in(rendered[overlay]):
        known = {env for setting in settings_of(service.settings) for env in setting.env}
        container = only_container(service.deployment)
        named = {item["name"] for item in container.get("env", [])}
        problems += [f"{service.name}: no setting reads {name}" for name in named - known]
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                readers.setdefault(source["configMapRef"]["name"], set()).update(known)
    for name, known in readers.items():
        config = by_kind(rendered[overlay], "ConfigMap")[name]
        unread = set(config.get("data", {})) - known
        problems += [f"ConfigMap {name}: no service that loads it reads {key}" for key in unread]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_file_settings_point_into_a_mounted_volume(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """A FilePath setting (Kafka's CA bundle) makes the service refuse to start when the file
    is not there."""
    problems: list[str] = []
    checked = 0
    for service in services_in(rendered[overlay]):
        pod = service.deployment["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        mounts = only_container(service.deployment).get("volumeMounts", [])
        for name, field in service.settings.model_fields.items():
            setting = next(s for s in settings_of(service.settings) if s.field == name)
            value = service.value_of(setting)
            if not is_file_path(field.annotation) or value is None or not value.text:
                continue
            checked += 1
            path = Path(value.text)
            mount = next((m for m in mounts if path.is_relative_to(m["mountPath"])), None)
            if mount is None:
                problems.append(f"{service.name}: {setting.label}={path} is in no mounted volume")
                continue
            volume = volumes[mount["name"]]
            source = volume.get("secret") or volume.get("configMap") or {}
            items = [item["path"] for item in source.get("items", [])]
            relative = str(path.relative_to(mount["mountPath"]))
            if items and relative not in items:
                problems.append(f"{service.name}: volume {mount['name']} holds no {relative}")
    assert checked, "no service was given a file: this check saw nothing"
    assert not problems, "\n".join(problems)


@dataclass(frozen=True)
class Connection:
    """One address a service's settings make it connect to."""

    service: Service
    setting: Setting
    destination: Destination


def connections(manifests: list[Manifest]) -> tuple[list[Connection], list[str]]:
    found: list[Connection] = []
    problems: list[str] = []
    for service in services_in(manifests):
        for setting in settings_of(service.settings):
            value = service.value_of(setting)
            if setting.dependency is None or value is None:
                continue
            reached, unresolved = destinations(setting, value, manifests)
            found += [Connection(service, setting, destination) for destination in reached]
            problems += [f"{service.name}: {problem}" for problem in unresolved]
    return found, problems


def is_name_resolution(rule: Manifest) -> bool:
    """An egress rule to kube-dns (UDP 53), which every name a setting holds needs."""
    kube_dns = {"k8s-app": "kube-dns"}
    kube_system = {"kubernetes.io/metadata.name": "kube-system"}
    return any(
        item.get("port") == 53 and item.get("protocol") == "UDP" for item in rule.get("ports", [])
    ) and all(
        selects(peer.get("podSelector", {}), kube_dns)
        and selects(peer.get("namespaceSelector", {}), kube_system)
        for peer in rule.get("to", [])
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_each_service_reach_what_its_settings_name_and_nothing_else(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """Egress to every address a dependency setting names, which the callee's ingress policies
    (or the Kafka listener's peers) admit; kube-dns; and no egress rule that no setting uses."""
    manifests = rendered[overlay]
    namespace = namespace_of(manifests)
    found, problems = connections(manifests)
    used: set[tuple[str, int]] = set()
    for connection in found:
        name, setting, destination = (
            connection.service.name,
            connection.setting,
            connection.destination,
        )
        caller = pod_labels(connection.service.deployment)
        rules = egress_rules_to(manifests, caller, destination, namespace)
        if rules is not None and not rules:
            problems.append(
                f"{name}: no NetworkPolicy lets it reach {destination.address} "
                f"({setting.label}, {setting.dependency})"
            )
        used.update(rules or [])
        if destination.callee is None:
            continue
        if destination.callee.startswith("kafka:"):
            cluster = destination.callee.removeprefix("kafka:")
            admitted = kafka_listener_admits(cluster, destination.port, caller)
        else:
            admitted = ingress_admits(manifests, caller, destination, namespace)
        if not admitted:
            problems.append(
                f"{name}: {destination.callee} does not admit it on {destination.address} "
                f"({setting.label})"
            )
    connecting = {connection.service.name for connection in found}
    for service in services_in(manifests):
        policies = policies_for(manifests, pod_labels(service.deployment), "Egress")
        egress = [
            (policy["metadata"]["name"], index, rule)
            for policy in policies
            for index, rule in enumerate(policy["spec"].get("egress", []))
        ]
        resolves = any(is_name_resolution(rule) for _, _, rule in egress)
        if policies and service.name in connecting and not resolves:
            problems.append(f"{service.name}: may not ask kube-dns for the names it uses")
        for policy_name, index, rule in egress:
            if is_name_resolution(rule) or (policy_name, index) in used:
                continue
            ports = [item.get("port") for item in rule.get("ports", [])] or "every port"
            problems.append(
                f"{service.name}: egress rule {index} of {policy_name} (to {ports}) serves no "
                f"setting of {service.settings.__name__}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_admits_exactly_the_services_whose_settings_call_it(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """Peers of this namespace only: the ingress controller and Prometheus come from other
    namespaces (test_k8s_manifests.py)."""
    manifests = rendered[overlay]
    found, _ = connections(manifests)
    services = list(services_in(manifests))
    problems = []
    for service in services:
        callers = {c.service.name for c in found if c.destination.callee == service.name}
        policies = policies_for(manifests, pod_labels(service.deployment), "Ingress")
        admitted = {
            other.name
            for other in services
            for policy in policies
            for rule in policy["spec"].get("ingress", [])
            for peer in rule.get("from", [])
            if "namespaceSelector" not in peer
            and selects(peer.get("podSelector", {}), pod_labels(other.deployment))
        }
        if admitted != callers:
            problems.append(
                f"{service.name}: its ingress policies admit {sorted(admitted)}, the services "
                f"whose settings call it are {sorted(callers)}"
            )
    assert not problems, "\n".join(problems)


def _secret_commands(readme: str) -> dict[str, set[str]]:
    """Secret name -> keys, of each `kubectl create secret generic` in the README."""
    commands: dict[str, set[str]] = {}
    for name, lines in re.findall(r"create secret generic (\S+) \\\n((?:.*\\\n)*.*\n)", readme):
        commands[name] = set(re.findall(r"--from-literal=(\w+)=", lines))
    return commands


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_a_service_reads_is_made_by_strimzi_or_by_the_readme(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """Out-of-band Secrets must hold every key the Deployments read from them, or the pods
    stop at CreateContainerConfigError: the README's commands create exactly those keys."""
    manifests = rendered[overlay]
    commands = _secret_commands((K8S / "README.md").read_text())
    strimzi = set(by_kind(manifests, "KafkaUser")) | {
        f"{m['metadata']['labels']['strimzi.io/cluster']}-cluster-ca-cert"
        for m in manifests
        if m["kind"] == "KafkaUser"
    }
    read: dict[str, set[str]] = {}
    problems: list[str] = []
    for service in services_in(manifests):
        container = only_container(service.deployment)
        pod = service.deployment["spec"]["template"]["spec"]
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                read.setdefault(ref["name"], set()).add(ref["key"])
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                problems.append(
                    f"{service.name}: reads Secret {source['secretRef']['name']} whole; name "
                    "each key with secretKeyRef, so a missing one stops the pod"
                )
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                read.setdefault(volume["secret"]["secretName"], set())
    for name, keys in read.items():
        if name in strimzi:
            continue
        if name not in commands:
            problems.append(f"Secret {name}: neither Strimzi nor the README creates it")
            continue
        problems += [f"README: {name} lacks {key}" for key in sorted(keys - commands[name])]
        unread = sorted(commands[name] - keys)
        problems += [f"README: {name} has {key}, which no one reads" for key in unread]
    assert not problems, "\n".join(problems)
