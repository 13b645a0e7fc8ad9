"""`make run` on a machine where no PostgreSQL or Redis answers: it runs its own under the
state dir, the services use them, `make status` shows them, `make stop` stops them, and a
user registered before `make stop && make run` can still log in after."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from local_infra.ports import free_port
from local_infra.postgres import can_connect
from local_infra.processes import tail
from local_infra.redis_server import can_ping
from local_infra.secrets_env import load_or_create_env_file
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack import OWN_POSTGRES_DIR, OWN_REDIS_DIR
from local_infra.stack_state import load_state

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

COMMAND_SECONDS = 180
PASSWORD = "Correct-Horse-42"


@dataclass(frozen=True)
class LocalRun:
    state_dir: Path
    env_file: Path
    postgres_url: str
    redis_url: str

    async def command(self, name: str) -> tuple[int, str]:
        """`python -m local_infra <name>` as `make run`/`stop`/`status` run it."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "local_infra",
            name,
            "--state-dir",
            str(self.state_dir),
            "--env-file",
            str(self.env_file),
            cwd=self.state_dir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), COMMAND_SECONDS)
        assert process.returncode is not None
        return process.returncode, output.decode(errors="replace")

    async def succeeds(self, name: str) -> str:
        returncode, output = await self.command(name)
        assert returncode == 0, f"local_infra {name}:\n{output}\n{self.log_tails()}"
        return output

    def gateway_url(self) -> str:
        info = load_state(self.state_dir)
        assert info is not None
        return info.gateway_url

    def log_tails(self, lines: int = 30) -> str:
        logs = [*self.state_dir.glob("logs/*.log"), *self.state_dir.glob("*/*.log")]
        return "\n".join(f"----- {log} -----\n{tail(log, lines)}" for log in sorted(logs))


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: as root, PostgreSQL's user must reach the state dir.
    directory = Path(tempfile.mkdtemp(prefix="local-infra-make-run-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def local_run(
    state_dir: Path, infrastructure: Infrastructure, topic_prefix: str
) -> AsyncIterator[LocalRun]:
    postgres_port = free_port()
    redis_port = free_port()
    while redis_port == postgres_port:
        redis_port = free_port()
    env_file = load_or_create_env_file(state_dir / "local.env")
    # Where nothing answers; the session's broker, in a namespace of this test's own.
    settings = {
        "POSTGRES_ADMIN_URL": f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": f"{topic_prefix}own-servers.",
    }
    with env_file.path.open("a") as lines:
        lines.writelines(f"{key}={value}\n" for key, value in settings.items())
    run = LocalRun(state_dir, env_file.path, settings["POSTGRES_ADMIN_URL"], settings["REDIS_URL"])
    try:
        yield run
    finally:
        await run.command("down")


async def _register(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Zoë"}
    )
    assert response.status_code == 201, response.text


async def _login_status(client: httpx.AsyncClient, email: str) -> int:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    return response.status_code


@pytest.mark.timeout(600)
async def test_make_run_runs_our_own_servers_where_none_answer_and_a_restart_keeps_a_user(
    local_run: LocalRun,
) -> None:
    started = await local_run.succeeds("up")

    postgres_dir = local_run.state_dir / OWN_POSTGRES_DIR
    redis_dir = local_run.state_dir / OWN_REDIS_DIR
    assert f"postgres: {local_run.postgres_url} (ours, data in {postgres_dir})" in started
    assert f"redis:    {local_run.redis_url} (ours, data in {redis_dir})" in started
    info = load_state(local_run.state_dir)
    assert info is not None
    assert info.postgres_admin_url == local_run.postgres_url
    assert info.redis_url == local_run.redis_url
    _, status = await local_run.command("status")
    assert f"{local_run.postgres_url}  data in {postgres_dir}" in status, status
    assert f"{local_run.redis_url}  data in {redis_dir}" in status, status

    email = "zoe@example.com"
    async with httpx.AsyncClient(base_url=local_run.gateway_url(), timeout=30) as client:
        await _register(client, email)
        assert await _login_status(client, email) == 200

    await local_run.succeeds("down")
    assert not await can_connect(local_run.postgres_url, connect_seconds=1)
    assert not await can_ping(local_run.redis_url, connect_seconds=1)

    await local_run.succeeds("up")
    async with httpx.AsyncClient(base_url=local_run.gateway_url(), timeout=30) as client:
        assert await _login_status(client, email) == 200
