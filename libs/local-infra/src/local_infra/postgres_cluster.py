"""A PostgreSQL server of our own, made with the machine's installed server binaries.

`make run` keeps one under the run state dir when no server answers where the settings
point; a test session without a server keeps one in a temporary directory; tests that stop
and start PostgreSQL use one of their own. None of them is the machine's shared cluster.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from local_infra.errors import InfrastructureUnavailable
from local_infra.ports import LOOPBACK, free_port
from local_infra.processes import is_running_as

HOW_TO_GET_POSTGRES = (
    "Install PostgreSQL's server programs (Debian/Ubuntu: `apt-get install postgresql`, "
    "which `make install` runs when initdb is missing) so that local_infra can run a "
    "server of its own, or point the URL at a running server (make run: "
    "POSTGRES_ADMIN_URL in .env; tests: TEST_DATABASE_URL)."
)
# PostgreSQL refuses to run as root; as root we run it as this operating-system user.
SERVER_USER_FOR_ROOT = "postgres"
# postmaster.pid: PID, data directory, start time, port, ... (one value a line).
_PID_FILE_PORT_LINE = 3


def _has_server_programs(directory: Path) -> bool:
    return (directory / "initdb").is_file() and (directory / "pg_ctl").is_file()


@functools.cache
def server_binaries() -> Path:
    """The directory holding `initdb` and `pg_ctl`: `pg_config --bindir`, the PATH's
    `initdb`, else the newest /usr/lib/postgresql/<version>/bin."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        bindir = subprocess.run(  # noqa: S603 - a fixed command
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if bindir:
            candidates.append(Path(bindir))
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
    )
    candidates.extend(Path(path) for path in reversed(versions))
    for candidate in candidates:
        if _has_server_programs(candidate):
            return candidate
    raise InfrastructureUnavailable(
        f"No PostgreSQL server programs (initdb, pg_ctl) found. {HOW_TO_GET_POSTGRES}"
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

    `port` defaults to the one the cluster listens on while it runs, else a free one; each
    start listens on `port`. `durable` clusters flush to disk (fsync on) and outlive an
    operating-system crash; the others (tests) only outlive a stop of the server.

    When we run as root the server runs as the `postgres` user, which must be able to
    reach `directory` (a `tempfile.mkdtemp()` directory is fine; pytest's tmp_path is not).
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        host: str = LOOPBACK,
        *,
        durable: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.data_dir = directory / "data"
        self.log_path = directory / "postgres.log"
        self.host = host
        self.durable = durable
        # postgresql.conf settings of its own, written when the cluster is created.
        self.settings = dict(settings or {})
        self.port = port or self.running_port() or free_port(host)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _pid_file_lines(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return []

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs (the first line of postmaster.pid)."""
        lines = self._pid_file_lines()
        try:
            return int(lines[0])
        except (IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.pid
        # A postmaster.pid left by a crash may name a PID that now belongs to another program.
        return pid is not None and is_running_as(pid, str(self.data_dir))

    def running_port(self) -> int | None:
        """The port the cluster listens on, while it runs."""
        if not self.is_running():
            return None
        try:
            return int(self._pid_file_lines()[_PID_FILE_PORT_LINE])
        except (IndexError, ValueError):
            return None

    async def start(self, wait_seconds: float = 60) -> None:
        """Create the cluster on first use, then start it on `port` and wait until it
        accepts connections."""
        if not (self.data_dir / "PG_VERSION").is_file():
            await self._initdb()
        await self._pg_ctl(
            "start",
            "-w",
            "-t", str(int(wait_seconds)),
            "-l", str(self.log_path),
            "-o", f"-p {self.port}",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m <mode>`: "fast" disconnects clients and shuts down cleanly;
        "immediate" quits at once, and the next start runs crash recovery."""
        await self._pg_ctl("stop", "-w", "-m", mode)

    async def _initdb(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        user = _server_user()
        if user is not None:
            shutil.chown(self.directory, user)
            await self._check_server_user_reaches_directory(user)
        await self._run(
            "initdb",
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            *([] if self.durable else ["--no-sync"]),
        )  # fmt: skip
        settings = {
            "listen_addresses": f"'{self.host}'",
            # TCP only: a socket path under a deep checkout can exceed the 107-byte limit.
            "unix_socket_directories": "''",
            "max_connections": "200",
            # A test cluster outlives a restart of the server, which is what tests restart;
            # flushing to disk for an operating-system crash would only load the machine.
            "fsync": "on" if self.durable else "off",
            **self.settings,
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# local_infra.PostgresCluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    async def _check_server_user_reaches_directory(self, user: str) -> None:
        process = await asyncio.create_subprocess_exec(
            "test", "-w", str(self.directory), "-a", "-x", str(self.directory), user=user
        )
        if await process.wait() != 0:
            raise InfrastructureUnavailable(
                f"PostgreSQL runs as the {user!r} user here (we run as root), and that user "
                f"cannot reach {self.directory}: let it through every parent directory "
                f"(chmod o+x), or point the URL at a running server. {HOW_TO_GET_POSTGRES}"
            )

    async def _pg_ctl(self, *arguments: str) -> None:
        await self._run("pg_ctl", "-D", str(self.data_dir), *arguments)

    async def run_program(self, program: str, *arguments: str) -> None:
        """One of the server's programs (pg_basebackup, ...) as the server's own user, in the
        cluster's directory; raises with its output when it fails."""
        await self._run(program, *arguments)

    async def _run(self, program: str, *arguments: str) -> None:
        process = await asyncio.create_subprocess_exec(
            str(server_binaries() / program),
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            user=_server_user(),
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


def give_to_server_user(data_dir: Path) -> None:
    """A data directory copied by us becomes the server's: its user's (as root), 0700."""
    user = _server_user()
    for path in (data_dir, *data_dir.rglob("*")):
        if user is not None:
            shutil.chown(path, user, user)
    data_dir.chmod(0o700)


def server_owned_directory(prefix: str) -> Path:
    """A new temporary directory the server's user owns (as root it runs as `postgres`)."""
    # Not under pytest's tmp_path: as root, the server's user must reach the directory.
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    user = _server_user()
    if user is not None:
        shutil.chown(directory, user)
    return directory


@asynccontextmanager
async def temporary_postgres_cluster(
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[PostgresCluster]:
    """A started cluster in a new temporary directory; stopped and deleted afterwards."""
    directory = server_owned_directory("local-infra-postgres-")
    cluster = PostgresCluster(directory, settings=settings)
    try:
        await cluster.start()
        yield cluster
    finally:
        if cluster.is_running():
            await cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
