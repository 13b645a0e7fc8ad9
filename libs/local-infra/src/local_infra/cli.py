"""`python -m local_infra up|down|status|broker`: the commands behind `make run` / `make stop`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from local_infra.broker import KafkaBroker, kafka_version
from local_infra.errors import InfrastructureUnavailable, ServiceStartError
from local_infra.health import is_ready
from local_infra.platform_topics import platform_topics
from local_infra.ports import preferred_or_free_port
from local_infra.postgres import can_connect
from local_infra.postgres_cluster import PostgresCluster
from local_infra.processes import is_running_as, read_pid
from local_infra.redis_server import RedisServer, can_ping
from local_infra.repository import repo_root
from local_infra.secrets_env import load_or_create_env_file
from local_infra.services import SERVICE_SPECS
from local_infra.stack import (
    DEFAULT_BROKER_PORT,
    DEFAULT_POSTGRES_ADMIN_URL,
    DEFAULT_REDIS_URL,
    OWN_POSTGRES_DIR,
    OWN_REDIS_DIR,
    Stack,
    StackAlreadyRunning,
    StackConfig,
    stop_stack,
)
from local_infra.stack_state import StackInfo, load_state

STOP_HINT = "stop with: make stop"


def _stack_config(state_dir: Path, env: dict[str, str]) -> StackConfig:
    topics, partitions = platform_topics()
    return StackConfig(
        state_dir=state_dir,
        postgres_admin_url=env.get("POSTGRES_ADMIN_URL", DEFAULT_POSTGRES_ADMIN_URL),
        redis_url=env.get("REDIS_URL", DEFAULT_REDIS_URL),
        kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        topic_prefix=env.get("KAFKA_TOPIC_PREFIX", ""),
        # Keeps our read models apart from anything else in the same Redis.
        redis_key_prefix=env.get("REDIS_KEY_PREFIX", "ticketing-local:"),
        topics=topics,
        topic_partitions=partitions,
        environment=env.get("ENVIRONMENT", "development"),
        log_level=env.get("LOG_LEVEL", "INFO"),
        extra_env=env,
    )


class _Server(NamedTuple):
    name: str
    url: str
    # Set when the server in use is our own one in the state dir, and it runs.
    own_directory: Path | None
    answers: Callable[[str], Awaitable[bool]]


def _own_directory(url: str, directory: Path, running_port: int | None) -> Path | None:
    """`directory` when our own server there runs where `url` points."""
    return directory if running_port is not None and urlsplit(url).port == running_port else None


def _servers(info: StackInfo) -> list[_Server]:
    """The PostgreSQL and Redis the stack uses."""
    postgres_dir = info.state_dir / OWN_POSTGRES_DIR
    redis_dir = info.state_dir / OWN_REDIS_DIR
    postgres_port = PostgresCluster(postgres_dir).running_port()
    redis_port = RedisServer(redis_dir).running_port()
    return [
        _Server(
            "postgres",
            info.postgres_admin_url,
            _own_directory(info.postgres_admin_url, postgres_dir, postgres_port),
            can_connect,
        ),
        _Server(
            "redis", info.redis_url, _own_directory(info.redis_url, redis_dir, redis_port), can_ping
        ),
    ]


def _print_started(info: StackInfo) -> None:
    for note in info.port_notes:
        print(f"note: {note}")
    print(f"gateway:  {info.gateway_url}")
    print(f"API docs: {info.docs_url}")
    if info.web_url:
        print(f"shop:     {info.web_url}/")
        print(f"console:  {info.web_url}/console")
    for name, process in info.services.items():
        print(f"  {name:<17} {process.url}  (pid {process.pid})")
    broker_owner = (
        f"Apache Kafka {kafka_version()}, KRaft, data in {info.state_dir / 'kafka'}"
        if info.broker_managed
        else "external"
    )
    print(f"broker:   {info.kafka_bootstrap_servers} ({broker_owner})")
    for server in _servers(info):
        owner = f"ours, data in {server.own_directory}" if server.own_directory else "external"
        print(f"{server.name + ':':<9} {server.url} ({owner})")
    print(f"payments: {info.payment_provider_url} (payment provider simulator)")
    print(
        f"mail:     {info.mail_catcher_url}/ (every e-mail the platform sent, caught; "
        f"files in {info.state_dir / 'mail'})"
    )
    print(f"logs:     {info.log_dir}")
    print(STOP_HINT)


async def _up(state_dir: Path, env_path: Path) -> int:
    env_file = load_or_create_env_file(env_path)
    if env_file.created:
        print(f"created {env_file.path} with a new JWT secret and an admin login:")
        print(f"  log in as {env_file.values['ADMIN_EMAIL']} / {env_file.values['ADMIN_PASSWORD']}")
        print("  (the admin login and JWT secret are read from .env on every start)")
    else:
        print(f"admin login: {env_file.values.get('ADMIN_EMAIL')} (password in {env_file.path})")
    info = await Stack(_stack_config(state_dir, env_file.values)).start()
    _print_started(info)
    return 0


async def _status(state_dir: Path) -> int:
    info = load_state(state_dir)
    if info is None:
        print(f"not started (no state in {state_dir})")
        return 1
    all_ready = True
    for name in SERVICE_SPECS:
        pid = read_pid(state_dir / "pids" / f"{name}.pid")
        process = info.services.get(name)
        alive = pid is not None and is_running_as(pid, f"-m {SERVICE_SPECS[name].module}")
        ready = alive and process is not None and await is_ready(process.url)
        all_ready = all_ready and ready
        state = "ready" if ready else ("running, not ready" if alive else "stopped")
        url = process.url if process else "-"
        print(f"{name:<17} {state:<19} {url}  pid {pid if alive else '-'}")
    broker = KafkaBroker(state_dir)
    broker_state = "running" if broker.is_running() else "stopped"
    if not info.broker_managed:
        broker_state = "external"
    print(f"{'broker':<17} {broker_state:<19} {info.kafka_bootstrap_servers}")
    for server in _servers(info):
        if server.own_directory is not None:
            server_state = "running"
        elif urlsplit(server.url).password is not None:
            # Recorded without its password: not one we can try.
            server_state = "external"
        else:
            server_state = "external" if await server.answers(server.url) else "not answering"
        where = f"  data in {server.own_directory}" if server.own_directory else ""
        print(f"{server.name:<17} {server_state:<19} {server.url}{where}")
    print(f"logs: {info.log_dir}")
    return 0 if all_ready else 1


async def _broker(state_dir: Path) -> int:
    broker = KafkaBroker(state_dir)
    if not broker.is_running():
        port = preferred_or_free_port(DEFAULT_BROKER_PORT)
        if port != DEFAULT_BROKER_PORT:
            print(f"note: port {DEFAULT_BROKER_PORT} is taken, using {port}")
        broker = KafkaBroker(state_dir, port=port)
    print(f"KAFKA_BOOTSTRAP_SERVERS={await broker.start()}")
    print(f"log: {broker.log_path}")
    print(STOP_HINT)
    return 0


async def _down(state_dir: Path) -> int:
    await stop_stack(state_dir)
    print(f"stopped (logs kept in {state_dir / 'logs'})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_infra", description=__doc__)
    parser.add_argument("command", choices=["broker", "down", "status", "up"])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where logs, PID files and stack.json live (default: <repo>/.run)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="settings for `up`, created with new secrets if missing (default: <repo>/.env)",
    )
    arguments = parser.parse_args(argv)
    state_dir: Path = arguments.state_dir or repo_root() / ".run"
    env_path: Path = arguments.env_file or repo_root() / ".env"
    commands = {
        "up": lambda: _up(state_dir.resolve(), env_path.resolve()),
        "down": lambda: _down(state_dir.resolve()),
        "status": lambda: _status(state_dir.resolve()),
        "broker": lambda: _broker(state_dir.resolve()),
    }
    try:
        return asyncio.run(commands[arguments.command]())
    except (InfrastructureUnavailable, ServiceStartError, StackAlreadyRunning) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
