"""What a started stack looks like: ports, URLs, PIDs; saved as JSON in the state dir."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from local_infra.services import MAIL_CATCHER, PAYMENT_SIMULATOR
from local_infra.urls import redacted
from service_kit.internal_auth import GATEWAY, InternalTokenIssuer, service_key_names

STATE_FILE_NAME = "stack.json"


@dataclass
class ServiceProcess:
    name: str
    url: str
    port: int
    pid: int
    log_path: Path


class ServiceControl(Protocol):
    async def kill_service(self, name: str, signum: int = ...) -> None: ...

    async def start_service(self, name: str) -> ServiceProcess: ...

    async def restart_service(self, name: str, signum: int = ...) -> ServiceProcess: ...

    async def start_replica(
        self, service: str, replica: str, port: int = ...
    ) -> ServiceProcess: ...


@dataclass
class StackInfo:
    state_dir: Path
    gateway_url: str
    services: dict[str, ServiceProcess]
    kafka_bootstrap_servers: str
    broker_managed: bool
    postgres_admin_url: str
    redis_url: str
    database_urls: dict[str, str]
    topic_prefix: str
    redis_key_prefix: str
    port_notes: list[str] = field(default_factory=list)
    # Settings handed to every service besides the wiring (JWT_SECRET, ADMIN_EMAIL,
    # ADMIN_PASSWORD, ...); kept in memory only, never written to the state file.
    shared_env: dict[str, str] = field(default_factory=dict, repr=False)
    control: ServiceControl | None = field(default=None, repr=False, compare=False)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def docs_url(self) -> str:
        return f"{self.gateway_url}/docs"

    @property
    def web_url(self) -> str | None:
        """The shop (`/`) and console (`/console`), when the stack runs the web service."""
        return self.services["web"].url if "web" in self.services else None

    @property
    def payment_provider_url(self) -> str:
        """The payment simulator the services charge through (PAYMENT_PROVIDER_URL)."""
        return self.services[PAYMENT_SIMULATOR].url

    @property
    def mail_catcher_url(self) -> str:
        """Where caught e-mail is read (`GET /`, `/api/messages`)."""
        return self.services[MAIL_CATCHER].url

    @property
    def payment_provider_secret_key(self) -> str:
        return self.shared_env["PAYMENT_PROVIDER_SECRET_KEY"]

    def payment_provider_headers(self) -> dict[str, str]:
        """What the provider API and the simulator's /_sim control calls need."""
        return {"Authorization": f"Bearer {self.payment_provider_secret_key}"}

    def url(self, name: str) -> str:
        return self.services[name].url

    def pid(self, name: str) -> int:
        return self.services[name].pid

    def internal_headers(self, service: str) -> dict[str, str]:
        """What the gateway sends an internal service, for tools and tests that call it
        directly (operator checks, benchmarks): a token the stack's gateway key signs."""
        issuer = InternalTokenIssuer.from_text(self.shared_env["INTERNAL_TOKEN_PRIVATE_KEY"])
        return {"Authorization": issuer.authorization(service, GATEWAY)}

    def service_headers(self, caller: str, service: str) -> dict[str, str]:
        """What `caller` (e.g. booking-command) sends `service` when it calls it with its own
        token, signed with the stack's key for `caller`."""
        private_key = self.shared_env[service_key_names(caller)[0]]
        issuer = InternalTokenIssuer.from_text(private_key, issuer=caller)
        return {"Authorization": issuer.service_authorization(service)}

    def _controller(self) -> ServiceControl:
        if self.control is None:
            raise RuntimeError("this StackInfo was read from disk; use Stack to control services")
        return self.control

    async def kill_service(self, name: str, signum: int = signal.SIGKILL) -> None:
        """Send `signum` (default SIGKILL) to one service and wait until it is gone."""
        await self._controller().kill_service(name, signum)

    async def start_service(self, name: str) -> ServiceProcess:
        """Start one (stopped) service again on its port and wait until it is ready."""
        return await self._controller().start_service(name)

    async def restart_service(self, name: str, signum: int = signal.SIGTERM) -> ServiceProcess:
        return await self._controller().restart_service(name, signum)

    async def start_replica(self, service: str, replica: str, port: int = 0) -> ServiceProcess:
        """One more process of `service` under the name `replica` (same env, own port)."""
        return await self._controller().start_replica(service, replica, port)

    def to_json(self) -> dict[str, Any]:
        return {
            "state_dir": str(self.state_dir),
            "gateway_url": self.gateway_url,
            "services": {
                name: {
                    "url": process.url,
                    "port": process.port,
                    "pid": process.pid,
                    "log_path": str(process.log_path),
                }
                for name, process in self.services.items()
            },
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "broker_managed": self.broker_managed,
            # Passwords stay out of files on disk; readers only display these.
            "postgres_admin_url": redacted(self.postgres_admin_url),
            "redis_url": redacted(self.redis_url),
            "database_urls": {name: redacted(url) for name, url in self.database_urls.items()},
            "topic_prefix": self.topic_prefix,
            "redis_key_prefix": self.redis_key_prefix,
            "port_notes": self.port_notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackInfo:
        return cls(
            state_dir=Path(data["state_dir"]),
            gateway_url=data["gateway_url"],
            services={
                name: ServiceProcess(
                    name=name,
                    url=entry["url"],
                    port=entry["port"],
                    pid=entry["pid"],
                    log_path=Path(entry["log_path"]),
                )
                for name, entry in data["services"].items()
            },
            kafka_bootstrap_servers=data["kafka_bootstrap_servers"],
            broker_managed=data["broker_managed"],
            postgres_admin_url=data["postgres_admin_url"],
            redis_url=data["redis_url"],
            database_urls=data["database_urls"],
            topic_prefix=data["topic_prefix"],
            redis_key_prefix=data["redis_key_prefix"],
            port_notes=data.get("port_notes", []),
        )


def state_file(state_dir: Path) -> Path:
    return state_dir / STATE_FILE_NAME


def save_state(info: StackInfo) -> None:
    path = state_file(info.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(info.to_json(), indent=2) + "\n")
    temporary.replace(path)


def load_state(state_dir: Path) -> StackInfo | None:
    try:
        return StackInfo.from_json(json.loads(state_file(state_dir).read_text()))
    except FileNotFoundError:
        return None
