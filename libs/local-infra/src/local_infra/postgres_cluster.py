"""A PostgreSQL server of our own, made with the machine's installed server binaries.

Tests that stop and start PostgreSQL use one of these, never the machine's shared cluster.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from local_infra.errors import InfrastructureUnavailable
from local_infra.ports import LOOPBACK, free_port
from local_infra.postgres import HOW_TO_GET_POSTGRES
from local_infra.processes import is_alive

# PostgreSQL refuses to run as root; as root we run it as this operating-system user.
SERVER_USER_FOR_ROOT = "postgres"


def server_binaries() -> Path:
    """The directory holding `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/<version>/bin."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        bindir = subprocess.run(  # noqa: S603 - a fixed command
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if bindir:
            candidates.append(Path(bindir))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
    )
    candidates.extend(Path(path) for path in reversed(versions))
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise InfrastructureUnavailable(
        f"No PostgreSQL server binaries (initdb, pg_ctl) found. {HOW_TO_GET_POSTGRES}"
    )


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER_FOR_ROOT)
    except KeyError as error:
        raise InfrastructureUnavailable(
            f"PostgreSQL does not run as root, and there is no {SERVER_USER_FOR_ROOT!r} user "
            "to run it as (installing the PostgreSQL server package creates one)"
        ) from error
    return SERVER_USER_FOR_ROOT


class PostgresCluster:
    """One PostgreSQL cluster in `directory` (data, log), listening on loopback `port` only.

    When we run as root the server runs as the `postgres` user, which must be able to
    reach `directory` (a `tempfile.mkdtemp()` directory is fine; pytest's tmp_path is not).
    """

    def __init__(self, directory: Path, port: int | None = None, host: str = LOOPBACK) -> None:
        self.directory = directory
        self.data_dir = directory / "data"
        self.log_path = directory / "postgres.log"
        self.host = host
        self.port = port or free_port(host)
        self._bin = server_binaries()
        self._user = _server_user()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs (the first line of postmaster.pid)."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first_line)
        except (FileNotFoundError, ValueError):
            return None

    async def start(self, wait_seconds: float = 60) -> None:
        """Create the cluster on first use, then start it and wait until it accepts
        connections."""
        if not (self.data_dir / "PG_VERSION").is_file():
            await self._initdb()
        await self._pg_ctl("start", "-w", "-t", str(int(wait_seconds)), "-l", str(self.log_path))

    async def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m <mode>`: "fast" disconnects clients and shuts down cleanly;
        "immediate" quits at once, and the next start runs crash recovery."""
        await self._pg_ctl("stop", "-w", "-m", mode)

    def is_running(self) -> bool:
        pid = self.pid
        return pid is not None and is_alive(pid)

    async def _initdb(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            shutil.chown(self.directory, self._user)
        await self._run(
            "initdb",
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )  # fmt: skip
        settings = {
            "port": str(self.port),
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self.data_dir}'",
            "max_connections": "200",
            # A test server: surviving a restart of the server is what is tested, not an
            # operating-system crash, so flushing to disk only costs the shared machine.
            "fsync": "off",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# local_infra.PostgresCluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    async def _pg_ctl(self, *arguments: str) -> None:
        await self._run("pg_ctl", "-D", str(self.data_dir), *arguments)

    async def _run(self, program: str, *arguments: str) -> None:
        process = await asyncio.create_subprocess_exec(
            str(self._bin / program),
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            user=self._user,
            cwd=self.directory,
            # pg_ctl starts the server in the background; it must outlive no terminal.
            start_new_session=True,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise InfrastructureUnavailable(
                f"{program} {' '.join(arguments)} failed ({process.returncode}): "
                f"{output.decode(errors='replace').strip()}\nlog {self.log_path}"
            )


@asynccontextmanager
async def temporary_postgres_cluster() -> AsyncIterator[PostgresCluster]:
    """A started cluster in a new temporary directory; stopped and deleted afterwards."""
    # Not under pytest's tmp_path: as root, the server's user must reach the directory.
    directory = Path(tempfile.mkdtemp(prefix="local-infra-postgres-"))
    cluster = PostgresCluster(directory)
    try:
        await cluster.start()
        yield cluster
    finally:
        if cluster.is_running():
            await cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
