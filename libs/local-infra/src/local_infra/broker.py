"""Apache Kafka as a local process: one KRaft node, broker and controller combined.

Its jars come from Maven Central through `libs/local-infra/kafka/pom.xml` (`make install`
copies them into .tools/kafka/libs). Its log directory lives in the state dir, so a
stop and a start keep topics, records and consumer positions; `format_new_cluster()`
is what a rebuilt cluster looks like to the services (new cluster id, nothing in it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from local_infra.errors import InfrastructureUnavailable
from local_infra.ports import LOOPBACK, free_port, is_port_free
from local_infra.processes import (
    is_alive,
    is_running_as,
    kill_now,
    read_pid,
    spawn_background,
    tail,
    terminate,
)
from local_infra.repository import tools_dir

logger = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
KAFKA_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
KAFKA_LIBS_ENV = "KAFKA_LIBS_DIR"
SCRAM_MECHANISM = "SCRAM-SHA-512"
_SCRAM_SAFE = re.compile(r"[A-Za-z0-9._~-]+")
HOW_TO_GET_KAFKA = (
    "Run `make install`: it copies Apache Kafka's jars from Maven Central into "
    ".tools/kafka/libs (needs Java 17+ and Maven; Debian: "
    "`apt-get install openjdk-17-jre-headless maven`), or point KAFKA_LIBS_DIR at a "
    "folder holding them."
)
# A controlled shutdown of a single node takes a few seconds; a JVM that ignores
# SIGTERM for longer is killed.
STOP_GRACE_SECONDS = 30.0
_JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
_LOG4J2_CONFIG = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      # Each start prints every setting; the file the broker runs with is beside the log.
      - name: org.apache.kafka.common.config.AbstractConfig
        level: WARN
      - name: state.change.logger
        level: WARN
"""


def kafka_libs_dir() -> Path:
    """The folder of Kafka's jars: KAFKA_LIBS_DIR, else what `make install` resolved."""
    configured = os.environ.get(KAFKA_LIBS_ENV)
    libs = Path(configured) if configured else tools_dir() / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise InfrastructureUnavailable(f"No Apache Kafka jars in {libs}. {HOW_TO_GET_KAFKA}")
    return libs


def kafka_version(libs: Path | None = None) -> str:
    """The Kafka release the jars are, from the server jar's name (kafka_2.13-4.1.1.jar)."""
    for jar in (libs or kafka_libs_dir()).glob("kafka_2.13-*.jar"):
        if match := re.fullmatch(r"kafka_2\.13-(.+)\.jar", jar.name):
            return match.group(1)
    raise InfrastructureUnavailable(f"No Apache Kafka server jar. {HOW_TO_GET_KAFKA}")


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise InfrastructureUnavailable(
            "No Java runtime for Apache Kafka (Java 17+; Debian: "
            "`apt-get install openjdk-17-jre-headless`)."
        )
    return found


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


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


async def cluster_metadata_available(
    bootstrap_servers: str,
    wait_seconds: float = 2.0,
    client_settings: Mapping[str, str] | None = None,
) -> bool:
    # A plain TCP probe first: aiokafka logs an ERROR for every refused connection.
    if not await _accepts_connections(bootstrap_servers.split(",")[0], wait_seconds):
        return False
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=int(wait_seconds * 1000),
        **dict(client_settings or {}),
    )
    try:
        await asyncio.wait_for(admin.start(), wait_seconds)
        await asyncio.wait_for(admin.list_topics(), wait_seconds)
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
    return True


@dataclass(frozen=True)
class ScramListener:
    """The client listener authenticates with SASL/SCRAM-SHA-512 and authorizes with ACLs.

    `users` (name -> password) are created when the cluster is formatted; `super_user` is
    one of them and may do anything (it creates the topics and the ACLs). The controller
    listener stays plaintext on loopback: the broker half of this one node reaches the
    controller half through it as ANONYMOUS, which must therefore be a super user too.
    """

    super_user: str
    users: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.super_user not in self.users:
            raise ValueError(f"the super user {self.super_user!r} needs a password in `users`")
        # server.properties, JAAS and kafka-storage's --add-scram each quote differently;
        # names and passwords that need no quoting are the same text in all three.
        unquotable = [
            name
            for name, password in self.users.items()
            if not (_SCRAM_SAFE.fullmatch(name) and _SCRAM_SAFE.fullmatch(password))
        ]
        if unquotable:
            raise ValueError(
                f"SCRAM users and passwords may only use letters, digits and . _ ~ -: {unquotable}"
            )

    def client_settings(self, user: str) -> dict[str, str]:
        """aiokafka keyword arguments that log in as `user`."""
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": self.users[user],
        }

    def java_client_properties(self, user: str) -> dict[str, str]:
        """Java client properties (a Kafka tool's --command-config) that log in as `user`."""
        return {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": SCRAM_MECHANISM,
            "sasl.jaas.config": self.jaas_config(user),
        }

    def jaas_config(self, user: str) -> str:
        return (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{user}" password="{self.users[user]}";'
        )


class KafkaBroker:
    """One Apache Kafka node with its configuration, data, PID, ports and log in `state_dir`."""

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        host: str = LOOPBACK,
        *,
        scram: ScramListener | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.host = host
        self.scram = scram
        self._requested_port = port
        self.home = state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.config_path = self.home / "server.properties"
        self.pid_path = state_dir / "pids" / "kafka.pid"
        self.port_path = state_dir / "pids" / "kafka.port"
        self.log_path = state_dir / "logs" / "kafka.log"

    @property
    def port(self) -> int | None:
        try:
            return int(self.port_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return self._requested_port

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise RuntimeError("the broker has no port yet; call start() first")
        return f"{self.host}:{self.port}"

    @property
    def cluster_id(self) -> str | None:
        """The id the cluster was formatted with (None before the first start)."""
        try:
            properties = (self.data_dir / "meta.properties").read_text()
        except FileNotFoundError:
            return None
        match = re.search(r"^cluster\.id=(.+)$", properties, re.MULTILINE)
        return match.group(1).strip() if match else None

    @property
    def version(self) -> str:
        return kafka_version()

    @property
    def pid(self) -> int | None:
        return read_pid(self.pid_path)

    def is_running(self) -> bool:
        pid = self.pid
        return pid is not None and is_running_as(pid, KAFKA_MAIN_CLASS)

    def admin_client_settings(self) -> dict[str, str]:
        """aiokafka keyword arguments for a client that may do anything on this broker."""
        return self.scram.client_settings(self.scram.super_user) if self.scram else {}

    async def start(self, *, ready_timeout: float = 60.0) -> str:
        """Start (or reuse the one our PID file names) and return its bootstrap address.

        The first start formats a new cluster; later ones open what is on disk.
        """
        if self.is_running():
            logger.info("reusing Kafka pid %s at %s", self.pid, self.bootstrap_servers)
            await self._wait_until_ready(ready_timeout)
            return self.bootstrap_servers
        port = self._requested_port or free_port(self.host)
        if not await _port_freed(port, self.host, within_seconds=5.0):
            raise InfrastructureUnavailable(
                f"cannot start Kafka: {self.host}:{port} is already in use"
            )
        controller_port = free_port(self.host)
        while controller_port == port:
            controller_port = free_port(self.host)
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._server_properties(port, controller_port))
        (self.home / "log4j2.yaml").write_text(_LOG4J2_CONFIG)
        if self.cluster_id is None:
            await asyncio.to_thread(self._format, new_cluster_id())
        self.port_path.parent.mkdir(parents=True, exist_ok=True)
        self.port_path.write_text(f"{port}\n")
        pid = spawn_background(
            [*self._java_command(KAFKA_MAIN_CLASS), str(self.config_path)],
            log_path=self.log_path,
            pid_path=self.pid_path,
            cwd=self.home,
        )
        logger.info(
            "started Apache Kafka %s pid %s on %s:%s, cluster id %s",
            self.version,
            pid,
            self.host,
            port,
            self.cluster_id,
        )
        await self._wait_until_ready(ready_timeout)
        return self.bootstrap_servers

    def format_new_cluster(self) -> None:
        """Forget every topic, record and position: the next start formats a new cluster."""
        if self.is_running():
            raise RuntimeError("stop or kill the broker before formatting a new cluster")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _java_command(self, main_class: str) -> list[str]:
        log4j = self.home / "log4j2.yaml"
        return [
            java_executable(),
            *_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{kafka_libs_dir()}/*",
            main_class,
        ]

    def _format(self, cluster_id: str) -> None:
        command = [
            *self._java_command(STORAGE_TOOL_CLASS),
            "format",
            f"--cluster-id={cluster_id}",  # one token: an id may start with "-"
            "--config", str(self.config_path),
            "--ignore-formatted",
        ]  # fmt: skip
        if self.scram is not None:
            for user, password in self.scram.users.items():
                command += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]"]
        result = subprocess.run(  # noqa: S603 - a command we build, no shell
            command, capture_output=True, text=True, check=False, cwd=self.home
        )
        if result.returncode != 0:
            raise InfrastructureUnavailable(
                f"formatting Kafka's log directory failed ({result.returncode}):\n"
                f"{(result.stdout + result.stderr).strip()[-3000:]}"
            )

    def _server_properties(self, port: int, controller_port: int) -> str:
        client_protocol = "SASL_PLAINTEXT" if self.scram else "PLAINTEXT"
        settings: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{controller_port}",
            "listeners": f"CLIENT://{self.host}:{port},CONTROLLER://{self.host}:{controller_port}",
            "advertised.listeners": f"CLIENT://{self.host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "CLIENT",
            "listener.security.protocol.map": f"CLIENT:{client_protocol},CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "false",
            "num.partitions": "6",
            # One node: every internal topic has one replica.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # A consumer group's first member gets its partitions now, not in 3 s.
            "group.initial.rebalance.delay.ms": "0",
            # Two cores: Kafka's defaults (3 network, 8 I/O threads) only add switching.
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        if self.scram is not None:
            super_user = self.scram.super_user
            settings |= {
                "sasl.enabled.mechanisms": SCRAM_MECHANISM,
                "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
                # The broker logs in to its own CLIENT listener (inter-broker) as the super user.
                "listener.name.client.scram-sha-512.sasl.jaas.config": (
                    self.scram.jaas_config(super_user)
                ),
                "authorizer.class.name": (
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                ),
                "super.users": f"User:{super_user};User:ANONYMOUS",
                "allow.everyone.if.no.acl.found": "false",
            }
        lines = [f"{key}={value}" for key, value in settings.items()]
        return "# Written by local_infra.KafkaBroker at each start.\n" + "\n".join(lines) + "\n"

    async def _wait_until_ready(self, wait_seconds: float) -> None:
        started = time.monotonic()
        deadline = started + wait_seconds
        pid = self.pid
        while True:
            if pid is None or not is_alive(pid):
                raise InfrastructureUnavailable(
                    f"Kafka exited during start-up; log {self.log_path}:\n{tail(self.log_path)}"
                )
            if await cluster_metadata_available(
                self.bootstrap_servers, client_settings=self.admin_client_settings()
            ):
                logger.info("Kafka ready after %.2fs", time.monotonic() - started)
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise InfrastructureUnavailable(
                    f"Kafka gave no cluster metadata within {wait_seconds:.0f}s; "
                    f"log {self.log_path}:\n{tail(self.log_path)}"
                )
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the broker; what it wrote stays on disk for the next start."""
        pid = self.pid
        if pid is not None and is_running_as(pid, KAFKA_MAIN_CLASS):
            kill_now(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    def pause(self) -> None:
        """SIGSTOP the broker: connections stay open and nothing is answered."""
        self._send(signal.SIGSTOP)

    def resume(self) -> None:
        self._send(signal.SIGCONT)

    def _send(self, signum: int) -> None:
        pid = self.pid
        if pid is None or not is_running_as(pid, KAFKA_MAIN_CLASS):
            raise RuntimeError("the broker is not running")
        os.kill(pid, signum)

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Shut the broker down cleanly (SIGTERM, SIGKILL after the grace); data is kept."""
        pid = self.pid
        if pid is not None and is_running_as(pid, KAFKA_MAIN_CLASS):
            terminate(pid, grace_seconds)
        self.pid_path.unlink(missing_ok=True)
        self.port_path.unlink(missing_ok=True)


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
    client_settings: Mapping[str, str] | None = None,
) -> None:
    """Create each topic with `partitions` partitions; topics that exist are left as they are."""
    new_topics = [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
    if not new_topics:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=int(wait_seconds * 1000),
        **dict(client_settings or {}),
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
