"""The local process manager: PostgreSQL, Redis, a broker and the four services.

Used by `make run` / `make stop` (through the CLI) and by the end-to-end test fixture,
which gives it its own state dir, ports, databases and prefixes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from local_infra.broker import KafkaBroker, create_topics
from local_infra.errors import ServiceStartError
from local_infra.health import wait_until_ready
from local_infra.ports import LOOPBACK, preferred_or_free_port
from local_infra.postgres import create_database, ensure_postgres, stop_own_postgres
from local_infra.processes import is_running_as, kill_now, read_pid, spawn_background, tail
from local_infra.processes import terminate as terminate_process
from local_infra.redis_server import ensure_redis, stop_own_redis
from local_infra.repository import default_state_dir
from local_infra.secrets_env import (
    missing_service_token_keys,
    random_secret,
    ticket_signing_secret,
)
from local_infra.services import (
    DEFAULT_DATABASES,
    GATEWAY,
    SERVICE_SPECS,
    SharedSettings,
    service_environment,
)
from local_infra.stack_state import ServiceProcess, StackInfo, load_state, save_state
from local_infra.urls import redacted, with_path

logger = logging.getLogger(__name__)

DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_BROKER_PORT = 9092
DEFAULT_MAIL_CATCHER_SMTP_PORT = 1025
# Under the state dir: our own PostgreSQL and Redis, run when none answers where the
# settings point (see ensure_postgres, ensure_redis).
OWN_POSTGRES_DIR = "postgres"
OWN_REDIS_DIR = "redis"
DEFAULT_SERVICE_PORTS: Mapping[str, int] = {
    name: spec.default_port for name, spec in SERVICE_SPECS.items()
}


class StackAlreadyRunning(RuntimeError):
    """Services from an earlier start are still running in the same state dir."""


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path = field(default_factory=default_state_dir)
    host: str = LOOPBACK
    postgres_admin_url: str = DEFAULT_POSTGRES_ADMIN_URL
    # Where the services reach PostgreSQL, when not at postgres_admin_url's host and port
    # (e.g. a TcpProxy a fault test cuts); databases are created through the admin URL.
    service_postgres_url: str | None = None
    redis_url: str = DEFAULT_REDIS_URL
    # None: run an Apache Kafka node owned by this stack; otherwise use that cluster.
    kafka_bootstrap_servers: str | None = None
    broker_port: int = DEFAULT_BROKER_PORT
    # The mail catcher's SMTP port (notifications' SMTP_URL); 0 means any free port.
    mail_catcher_smtp_port: int = DEFAULT_MAIL_CATCHER_SMTP_PORT
    # 0 means any free port; a taken preferred port is replaced by a free one.
    service_ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVICE_PORTS))
    databases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DATABASES))
    topic_prefix: str = ""
    redis_key_prefix: str = ""
    # Created (unprefixed names; the prefix is added) before the services start.
    topics: Sequence[str] = ()
    topic_partitions: int = 6
    environment: str = "development"
    log_level: str = "INFO"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    ready_timeout_seconds: float = 90.0
    # Longer than the services' own graceful-shutdown budget (20s by default).
    stop_grace_seconds: float = 25.0
    python_executable: str = sys.executable
    # When nothing answers at the loopback URLs above, start our own PostgreSQL and Redis
    # in the state dir (and stop them with the stack); off: use the URLs as they are.
    ensure_local_servers: bool = True


def _module_marker(service: str) -> str:
    return f"-m {SERVICE_SPECS[service].module}"


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._broker = KafkaBroker(config.state_dir, port=None, host=config.host)
        self._info: StackInfo | None = None
        self._shared: SharedSettings | None = None
        # Extra replicas (name -> the service they run), started by start_replica().
        self._replicas: dict[str, str] = {}

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    @property
    def info(self) -> StackInfo:
        if self._info is None:
            raise RuntimeError("the stack is not started")
        return self._info

    def pid_path(self, name: str) -> Path:
        return self.state_dir / "pids" / f"{name}.pid"

    def log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def running_services(self) -> dict[str, int]:
        """Service name -> PID for the services our PID files name that are alive."""
        running = {}
        for name in SERVICE_SPECS:
            pid = read_pid(self.pid_path(name))
            if pid is not None and is_running_as(pid, _module_marker(name)):
                running[name] = pid
        return running

    async def start(self) -> StackInfo:
        """Start everything and return once every service answers ready."""
        if running := self.running_services():
            raise StackAlreadyRunning(
                f"services already running from {self.state_dir} (pids {running}); "
                "stop them with `make stop` (python -m local_infra down)"
            )
        config = self.config
        port_notes: list[str] = []
        postgres_admin_url, redis_url = await self._servers(port_notes)
        # A broker started here keeps its log directory in the state dir: topics, records
        # and consumer positions survive a stop and a start, as the databases do.
        bootstrap, broker_managed = await self._start_broker(port_notes)
        for database in config.databases.values():
            await create_database(postgres_admin_url, database)
        await self._create_topics(bootstrap)
        ports = self._choose_service_ports(port_notes)
        urls = {name: f"http://{config.host}:{port}" for name, port in ports.items()}
        # One key per stack unless the settings bring one (`make run`: from .env).
        payment_key = config.extra_env.get("PAYMENT_PROVIDER_SECRET_KEY") or random_secret(32)
        extra_env = {
            "TICKET_SIGNING_SECRET": ticket_signing_secret(),
            **self._mail_catcher_env(ports, port_notes),
            **missing_service_token_keys(config.extra_env),
            **config.extra_env,
        }
        self._shared = SharedSettings(
            environment=config.environment,
            log_level=config.log_level,
            host=config.host,
            redis_url=redis_url,
            redis_key_prefix=config.redis_key_prefix,
            kafka_bootstrap_servers=bootstrap,
            kafka_topic_prefix=config.topic_prefix,
            service_urls=urls,
            payment_provider_secret_key=payment_key,
            extra_env=extra_env,
        )
        self._info = StackInfo(
            state_dir=self.state_dir,
            gateway_url=urls[GATEWAY],
            services={},
            kafka_bootstrap_servers=bootstrap,
            broker_managed=broker_managed,
            postgres_admin_url=postgres_admin_url,
            redis_url=redis_url,
            database_urls={
                name: with_path(config.service_postgres_url or postgres_admin_url, database)
                for name, database in config.databases.items()
            },
            topic_prefix=config.topic_prefix,
            redis_key_prefix=config.redis_key_prefix,
            port_notes=port_notes,
            shared_env={**extra_env, "PAYMENT_PROVIDER_SECRET_KEY": payment_key},
            control=self,
        )
        for name, port in ports.items():
            self._spawn(name, port)
        save_state(self._info)
        try:
            await self._wait_all_ready(list(ports))
        except BaseException:
            await self.stop()
            raise
        return self._info

    async def _servers(self, port_notes: list[str]) -> tuple[str, str]:
        """The PostgreSQL admin URL and Redis URL the stack uses: the configured ones, or
        our own servers' when nothing answers there."""
        config = self.config
        if not config.ensure_local_servers:
            return config.postgres_admin_url, config.redis_url
        postgres_admin_url = await ensure_postgres(
            config.postgres_admin_url, self.state_dir / OWN_POSTGRES_DIR
        )
        redis_url = await ensure_redis(config.redis_url, self.state_dir / OWN_REDIS_DIR)
        for name, configured, chosen in (
            ("postgres", config.postgres_admin_url, postgres_admin_url),
            ("redis", config.redis_url, redis_url),
        ):
            if chosen != configured:
                port_notes.append(
                    f"{name}: no server we can use at {redacted(configured)}, "
                    f"using our own at {chosen}"
                )
        return postgres_admin_url, redis_url

    async def _create_topics(self, bootstrap: str) -> None:
        if self.config.topics:
            names = [f"{self.config.topic_prefix}{topic}" for topic in self.config.topics]
            await create_topics(bootstrap, names, self.config.topic_partitions)

    async def _start_broker(self, port_notes: list[str]) -> tuple[str, bool]:
        if self.config.kafka_bootstrap_servers:
            return self.config.kafka_bootstrap_servers, False
        if not self._broker.is_running():
            port = preferred_or_free_port(self.config.broker_port, self.config.host)
            if self.config.broker_port and port != self.config.broker_port:
                port_notes.append(f"broker: port {self.config.broker_port} is taken, using {port}")
            self._broker = KafkaBroker(self.state_dir, port=port, host=self.config.host)
        return await self._broker.start(), True

    def _choose_service_ports(self, port_notes: list[str]) -> dict[str, int]:
        ports: dict[str, int] = {}
        for name in SERVICE_SPECS:
            preferred = self.config.service_ports.get(name, 0)
            port = preferred_or_free_port(preferred, self.config.host)
            # Two services asking for any free port can be told the same one.
            while port in ports.values():
                port = preferred_or_free_port(0, self.config.host)
            if preferred and port != preferred:
                port_notes.append(f"{name}: port {preferred} is taken, using {port}")
            ports[name] = port
        return ports

    def _mail_catcher_env(self, ports: Mapping[str, int], port_notes: list[str]) -> dict[str, str]:
        """The catcher's SMTP server, and notifications sending through it; caught mail is
        kept in the state dir, so `make stop && make run` keeps it."""
        config = self.config
        preferred = config.mail_catcher_smtp_port
        port = preferred_or_free_port(preferred, config.host)
        while port in ports.values():
            port = preferred_or_free_port(0, config.host)
        if preferred and port != preferred:
            port_notes.append(f"mail-catcher SMTP: port {preferred} is taken, using {port}")
        return {
            "MAIL_CATCHER_SMTP_HOST": config.host,
            "MAIL_CATCHER_SMTP_PORT": str(port),
            "MAIL_CATCHER_MAIL_DIR": str(self.state_dir / "mail"),
            "SMTP_URL": f"smtp://{config.host}:{port}",
        }

    def service_of(self, name: str) -> str:
        """The service a process runs: `name` itself, or what the replica `name` replicates."""
        return self._replicas.get(name, name)

    def service_env(self, name: str, port: int | None = None) -> dict[str, str]:
        """The environment service (or replica) `name` runs with, e.g. for its CLI commands."""
        info, shared = self.info, self._shared
        assert shared is not None
        if port is None:
            port = info.services[name].port
        return service_environment(
            shared,
            port=port,
            database_url=info.database_urls.get(self.service_of(name)),
            base_env=os.environ,
            service=self.service_of(name),
        )

    def _spawn(self, name: str, port: int) -> ServiceProcess:
        env = self.service_env(name, port)
        log_path = self.log_path(name)
        pid = spawn_background(
            [self.config.python_executable, "-m", SERVICE_SPECS[self.service_of(name)].module],
            log_path=log_path,
            pid_path=self.pid_path(name),
            env=env,
            # Not the repo root: the services also read a `.env` from their working
            # directory, and a test stack must not pick up the developer's.
            cwd=self.state_dir,
        )
        process = ServiceProcess(
            name=name,
            url=f"http://{self.config.host}:{port}",
            port=port,
            pid=pid,
            log_path=log_path,
        )
        self.info.services[name] = process
        logger.info("started %s pid %s on port %s", name, pid, port)
        return process

    async def _wait_all_ready(self, names: list[str]) -> None:
        results = await asyncio.gather(
            *(self._wait_ready(name) for name in names), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise ServiceStartError("\n\n".join(str(failure) for failure in failures))

    async def _wait_ready(self, name: str) -> None:
        process = self.info.services[name]
        seconds = await wait_until_ready(
            name,
            process.url,
            pid=process.pid,
            log_path=process.log_path,
            wait_seconds=self.config.ready_timeout_seconds,
        )
        logger.info("%s ready after %.1fs", name, seconds)

    async def kill_service(self, name: str, signum: int = signal.SIGKILL) -> None:
        """Send `signum` (default SIGKILL) to one service (or replica) and wait until it is gone."""
        pid = self.info.services[name].pid
        if is_running_as(pid, _module_marker(self.service_of(name))):
            await asyncio.to_thread(kill_now, pid, signum)

    async def start_replica(self, service: str, replica: str, port: int = 0) -> ServiceProcess:
        """Start one more process of `service` named `replica`, with the same environment
        (database, topics, consumer group) on its own port (`port`, or any free one).

        Kill and start it like a service, by its name; `stop()` stops it too.
        """
        if service not in SERVICE_SPECS:
            raise ValueError(f"unknown service {service!r}")
        if replica in SERVICE_SPECS or replica in self.info.services:
            raise ValueError(f"{replica!r} is already a service or replica name")
        used = {process.port for process in self.info.services.values()}
        chosen = preferred_or_free_port(port, self.config.host)
        while chosen in used:
            chosen = preferred_or_free_port(0, self.config.host)
        self._replicas[replica] = service
        process = self._spawn(replica, chosen)
        save_state(self.info)
        await self._wait_ready(replica)
        return process

    def pause_broker(self) -> None:
        """SIGSTOP this stack's own broker: connections stay open, nothing is answered."""
        self._owned_broker().pause()

    def kill_broker(self) -> None:
        """SIGKILL this stack's own broker (what it wrote stays on disk)."""
        self._owned_broker().kill()

    async def start_empty_broker(self) -> str:
        """Format a new cluster (new cluster id, no topics, records or positions) where the
        killed broker listened, and create the platform's topics on it, as a rebuilt
        cluster's operator would.

        Returns the new cluster id.
        """
        old = self._broker
        if old.is_running():
            raise RuntimeError("the broker is still running; kill_broker() first")
        old.format_new_cluster()
        self._broker = KafkaBroker(self.state_dir, port=old.port, host=self.config.host)
        await self._create_topics(await self._broker.start())
        cluster_id = self._broker.cluster_id
        assert cluster_id is not None
        return cluster_id

    def resume_broker(self) -> None:
        self._owned_broker().resume()

    def _owned_broker(self) -> KafkaBroker:
        if not self.info.broker_managed or not self._broker.is_running():
            raise RuntimeError("this stack does not run its own broker")
        return self._broker

    @property
    def broker_pid(self) -> int | None:
        return self._broker.pid if self._broker.is_running() else None

    @property
    def broker_cluster_id(self) -> str | None:
        return self._broker.cluster_id if self._broker.is_running() else None

    async def start_service(self, name: str) -> ServiceProcess:
        """Start one service again on the port it had, and wait until it is ready."""
        process = self._spawn(name, self.info.services[name].port)
        save_state(self.info)
        await self._wait_ready(name)
        return process

    async def restart_service(self, name: str, signum: int = signal.SIGTERM) -> ServiceProcess:
        if signum == signal.SIGTERM:
            pid = self.info.services[name].pid
            await asyncio.to_thread(terminate_process, pid, self.config.stop_grace_seconds)
        else:
            await self.kill_service(name, signum)
        return await self.start_service(name)

    async def stop(self) -> None:
        """Stop the services (gateway first, so no new work arrives), then our broker,
        Redis and PostgreSQL."""
        # A paused broker would only act on SIGTERM after its grace period.
        if self._broker.is_running():
            self._broker.resume()
        await stop_services(self.state_dir, self.config.stop_grace_seconds, self._replicas)
        state = self._info or load_state(self.state_dir)
        if state is None or state.broker_managed:
            await asyncio.to_thread(self._broker.stop)
        if self.config.ensure_local_servers:
            await stop_own_redis(self.state_dir / OWN_REDIS_DIR)
            await stop_own_postgres(self.state_dir / OWN_POSTGRES_DIR)

    def log_tails(self, lines: int = 40) -> str:
        sections = [
            f"----- {name} ({self.log_path(name)}) -----\n{tail(self.log_path(name), lines)}"
            for name in (*SERVICE_SPECS, *self._replicas)
        ]
        return "\n".join(sections)


async def stop_services(
    state_dir: Path, grace_seconds: float, replicas: Mapping[str, str] | None = None
) -> None:
    """Terminate the services whose PID files are in `state_dir`.

    `replicas` (name -> the service it runs) are stopped along with the services.
    """
    services = {name: name for name in SERVICE_SPECS} | dict(replicas or {})

    async def stop_one(name: str) -> None:
        pid_path = state_dir / "pids" / f"{name}.pid"
        pid = read_pid(pid_path)
        if pid is not None and is_running_as(pid, _module_marker(services[name])):
            logger.info("stopping %s pid %s", name, pid)
            await asyncio.to_thread(terminate_process, pid, grace_seconds)
        pid_path.unlink(missing_ok=True)

    await stop_one(GATEWAY)
    await asyncio.gather(*(stop_one(name) for name in services if name != GATEWAY))


async def stop_stack(state_dir: Path, grace_seconds: float = 25.0) -> None:
    """What `make stop` does: stop what a previous `up` in `state_dir` left running."""
    await Stack(StackConfig(state_dir=state_dir, stop_grace_seconds=grace_seconds)).stop()
