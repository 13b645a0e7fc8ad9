"""Make sure Redis answers (ours, when nobody else's does), and clean up keys by prefix."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

from local_infra.errors import InfrastructureUnavailable
from local_infra.ports import LOOPBACK, free_port, preferred_or_free_port
from local_infra.processes import (
    is_alive,
    is_running_as,
    kill_now,
    read_pid,
    spawn_background,
    tail,
    terminate,
)
from local_infra.urls import is_loopback, port_of, redacted, with_path
from local_infra.waiting import poll_until

logger = logging.getLogger(__name__)

DEFAULT_REDIS_PORT = 6379
HOW_TO_GET_REDIS = (
    "Install Redis's server program (Debian/Ubuntu: `apt-get install redis-server`, which "
    "`make install` runs when redis-server is missing) so that local_infra can run a server "
    "of its own, or point the URL at a running server (make run: REDIS_URL in .env; tests: "
    "TEST_REDIS_URL)."
)
_CONFIG_PORT = re.compile(r"^port (\d+)$", re.MULTILINE)


async def can_ping(url: str, connect_seconds: float = 3.0) -> bool:
    client = redis.from_url(
        url, socket_connect_timeout=connect_seconds, socket_timeout=connect_seconds
    )
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


class RedisServer:
    """One redis-server in `directory` (its config, append-only file, log and PID file),
    listening on loopback `port` only.

    `port` defaults to the one the server listens on while it runs, else a free one. Every
    write reaches the append-only file within a second, and a stop (SIGTERM) flushes it, so
    the keys outlive a stop and a start.
    """

    def __init__(self, directory: Path, port: int | None = None, host: str = LOOPBACK) -> None:
        self.directory = directory
        self.config_path = directory / "redis.conf"
        self.log_path = directory / "redis.log"
        self.pid_path = directory / "redis.pid"
        self.host = host
        self.port = port or self.running_port() or free_port(host)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's PID while it runs."""
        pid = read_pid(self.pid_path)
        return pid if pid is not None and is_running_as(pid, "redis-server") else None

    def is_running(self) -> bool:
        return self.pid is not None

    def running_port(self) -> int | None:
        """The port the server listens on, while it runs (from the config it started with)."""
        if not self.is_running():
            return None
        try:
            found = _CONFIG_PORT.search(self.config_path.read_text())
        except FileNotFoundError:
            return None
        return int(found.group(1)) if found else None

    async def start(self, wait_seconds: float = 15) -> None:
        """Start the server on `port` (keeping what an earlier start wrote) and wait until it
        answers PING."""
        if self.is_running():
            raise InfrastructureUnavailable(f"redis-server in {self.directory} already runs")
        executable = shutil.which("redis-server")
        if executable is None:
            raise InfrastructureUnavailable(f"No redis-server program found. {HOW_TO_GET_REDIS}")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config())
        pid = spawn_background(
            [executable, str(self.config_path)],
            log_path=self.log_path,
            pid_path=self.pid_path,
            cwd=self.directory,
        )

        async def answers() -> bool:
            if not is_alive(pid):
                raise InfrastructureUnavailable(
                    f"redis-server in {self.directory} exited; last lines of "
                    f"{self.log_path}:\n{tail(self.log_path)}"
                )
            return await can_ping(self.url, connect_seconds=1)

        if not await poll_until(answers, wait_seconds=wait_seconds):
            await self.stop()
            raise InfrastructureUnavailable(
                f"redis-server in {self.directory} does not answer at {self.url} after "
                f"{wait_seconds:.0f}s; last lines of {self.log_path}:\n{tail(self.log_path)}"
            )

    async def stop(self) -> None:
        """SIGTERM: the server flushes its append-only file and exits."""
        pid = self.pid
        if pid is not None:
            await asyncio.to_thread(terminate, pid)
        self.pid_path.unlink(missing_ok=True)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and new ones are accepted, nothing is answered
        (a server that hangs, as a paused VM or a long fork does)."""
        pid = self.pid
        if pid is not None:
            kill_now(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: a frozen server answers again, with everything it held."""
        pid = self.pid
        if pid is not None:
            kill_now(pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL (a frozen server too): gone without flushing anything."""
        pid = self.pid
        if pid is not None:
            kill_now(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    def forget_data(self) -> None:
        """Deletes what the server keeps on disk, so the next start is empty (a server
        replaced without its volume). Only while it is not running."""
        if self.is_running():
            raise InfrastructureUnavailable(f"redis-server in {self.directory} still runs")
        shutil.rmtree(self.directory / "appendonlydir", ignore_errors=True)
        for name in ("appendonly.aof", "dump.rdb"):
            (self.directory / name).unlink(missing_ok=True)

    def _config(self) -> str:
        settings = {
            "bind": self.host,
            "port": str(self.port),
            "dir": f'"{self.directory}"',
            # The log goes to stdout, which spawn_background appends to redis.log.
            "logfile": '""',
            "daemonize": "no",
            "appendonly": "yes",
            "appendfsync": "everysec",
            # The append-only file is the one copy on disk; no RDB snapshots besides it.
            "save": '""',
        }
        lines = "".join(f"{key} {value}\n" for key, value in settings.items())
        return f"# local_infra.RedisServer, written at each start\n{lines}"


@asynccontextmanager
async def temporary_redis_server() -> AsyncIterator[RedisServer]:
    """A started server in a new temporary directory; stopped and deleted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="local-infra-redis-"))
    server = RedisServer(directory)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def ensure_redis(url: str, own_directory: Path) -> str:
    """The URL to use: `url` when a server answers there (it is used as it is); else the
    server of our own in `own_directory` (same database number), started when it is not
    running.

    Our server keeps its append-only file there, listens on loopback only, and starts on
    `url`'s port when that is free, else on a free port.
    """
    if await can_ping(url):
        return url
    if not is_loopback(url):
        raise InfrastructureUnavailable(
            f"Redis is not reachable at {redacted(url)}. {HOW_TO_GET_REDIS}"
        )
    server = RedisServer(own_directory)
    if not server.is_running():
        server = RedisServer(
            own_directory, preferred_or_free_port(port_of(url, DEFAULT_REDIS_PORT))
        )
        logger.info("starting redis-server in %s on port %s", own_directory, server.port)
        await server.start()
    if not await poll_until(lambda: can_ping(server.url), wait_seconds=30):
        raise InfrastructureUnavailable(
            f"our redis-server in {own_directory} runs but {server.url} does not answer; "
            f"see {server.log_path}"
        )
    database = urlsplit(url).path.strip("/") or "0"
    return with_path(server.url, database)


async def stop_own_redis(own_directory: Path) -> bool:
    """Stop the server `ensure_redis` started in `own_directory`; False if none ran."""
    server = RedisServer(own_directory)
    if not server.is_running():
        return False
    logger.info("stopping redis-server in %s", own_directory)
    await server.stop()
    return True


async def delete_keys_with_prefix(url: str, prefix: str) -> int:
    """Delete every key starting with `prefix` (SCAN, never KEYS); returns how many."""
    if not prefix:
        raise ValueError("refusing to delete every key: the prefix is empty")
    client = redis.from_url(url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{_glob_escaped(prefix)}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += await client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += await client.unlink(*batch)
    finally:
        await client.aclose()
    return deleted


def _glob_escaped(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
