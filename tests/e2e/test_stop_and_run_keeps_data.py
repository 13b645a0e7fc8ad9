"""`make run` is ready when a booking made now completes now, and `make stop && make run`
keeps everything: the databases, and Apache Kafka's topics, records and positions.

Runs the command `make run` runs (`python -m local_infra up`) with its own state dir and
env file, against a PostgreSQL cluster of its own, so the developer's `.run`, `.env` and
databases are never touched.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from local_infra.broker import KafkaBroker, kafka_version
from local_infra.postgres_cluster import temporary_postgres_cluster
from local_infra.processes import tail
from local_infra.secrets_env import load_or_create_env_file
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack_state import load_state
from ticketing_contracts import topics

from .invariants import bookings_of_show
from .platform_api import (
    availability,
    book,
    create_venue,
    eventually,
    published_show,
    register_fan,
    wait_for_status,
)
from .stack_helpers import PASSWORD, login

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

COMMAND_SECONDS = 180
# What "ready" promises a fan: the first booking is CONFIRMED this soon after it is made.
FIRST_BOOKING_SECONDS = 2.0


@dataclass(frozen=True)
class LocalRun:
    state_dir: Path
    env_file: Path
    admin_email: str
    admin_password: str

    async def command(self, name: str) -> str:
        """`python -m local_infra <name>` as `make run`/`make stop` run it; its output."""
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
        text = output.decode(errors="replace")
        assert process.returncode == 0, f"local_infra {name}:\n{text}\n{self.log_tails()}"
        return text

    async def kcat_read(self, topic: str) -> str:
        """What a librdkafka client (kcat, as a downstream team would run it) reads from
        `topic` of this run's broker, from the beginning to the end, one value a line."""
        info = load_state(self.state_dir)
        assert info is not None
        process = await asyncio.create_subprocess_exec(
            "kcat", "-b", info.kafka_bootstrap_servers, "-C", "-t", topic,
            "-o", "beginning", "-e", "-q", "-f", "%s\n",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, errors = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, errors.decode(errors="replace")
        return output.decode()

    def gateway_url(self) -> str:
        info = load_state(self.state_dir)
        assert info is not None
        return info.gateway_url

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(
            f"----- {log} -----\n{tail(log, lines)}"
            for log in sorted((self.state_dir / "logs").glob("*.log"))
        )


@pytest_asyncio.fixture(loop_scope="session")
async def local_run(
    tmp_path: Path, infrastructure: Infrastructure, redis_key_prefix: str
) -> AsyncIterator[LocalRun]:
    async with temporary_postgres_cluster() as postgres:
        # The secrets and admin login a first `make run` writes, then where our servers are.
        env_file = load_or_create_env_file(tmp_path / "local.env")
        servers = {
            "POSTGRES_ADMIN_URL": postgres.admin_url,
            "REDIS_URL": infrastructure.redis_url,
            "REDIS_KEY_PREFIX": f"{redis_key_prefix}make-run:",
        }
        with env_file.path.open("a") as settings:
            settings.writelines(f"{key}={value}\n" for key, value in servers.items())
        run = LocalRun(
            state_dir=tmp_path / "run",
            env_file=env_file.path,
            admin_email=env_file.values["ADMIN_EMAIL"],
            admin_password=env_file.values["ADMIN_PASSWORD"],
        )
        run.state_dir.mkdir()
        try:
            yield run
        finally:
            await run.command("down")


async def _what_a_user_sees(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    fan: dict[str, str],
    venue_id: str,
    event_id: str,
    booking_id: str,
) -> dict[str, Any]:
    async def get(path: str, headers: dict[str, str]) -> Any:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    return {
        "venue": await get(f"/api/v1/venues/{venue_id}", admin),
        "event": await get(f"/api/v1/events/{event_id}", admin),
        "booking": await get(f"/api/v1/bookings/{booking_id}", fan),
        "bookings of the event": await bookings_of_show(client, admin, event_id),
        "availability": await availability(client, event_id),
    }


@pytest.mark.timeout(600)
async def test_make_stop_and_make_run_keep_venues_events_bookings_and_availability(
    local_run: LocalRun,
) -> None:
    started = await local_run.command("up")
    assert f"Apache Kafka {kafka_version()}" in started, started
    cluster_id = KafkaBroker(local_run.state_dir).cluster_id
    async with httpx.AsyncClient(base_url=local_run.gateway_url(), timeout=30) as client:
        admin = await login(client, local_run.admin_email, local_run.admin_password)
        venue_id = await create_venue(client, admin)
        show = await published_show(client, admin, {"Stalls": 10}, venue_id=venue_id)
        fan = await register_fan(client)
        stalls = show.ticket_types["Stalls"]
        booked_at = time.monotonic()
        booking_id = await book(client, fan.headers, show.event_id, stalls, 2)
        confirmed = await wait_for_status(
            client, fan.headers, booking_id, within=FIRST_BOOKING_SECONDS
        )
        assert confirmed["status"] == "CONFIRMED", confirmed
        assert time.monotonic() - booked_at <= FIRST_BOOKING_SECONDS
        booking_facts = await local_run.kcat_read(topics.BOOKING_EVENTS)
        assert booking_id in booking_facts, booking_facts
        # Every read model has applied the sale (the event's details lag the booking's status).
        before = await eventually(
            lambda: _what_a_user_sees(
                client, admin, fan.headers, venue_id, show.event_id, booking_id
            ),
            lambda seen: (
                seen["event"]["tickets_sold"] == 2
                and seen["availability"][stalls]["sold"] == 2
                and seen["availability"][stalls]["reserved"] == 0
            ),
            within=30,
            what="the sale in every read model",
        )
    assert before["availability"][stalls]["available"] == 8, before

    await local_run.command("down")
    await local_run.command("up")
    assert KafkaBroker(local_run.state_dir).cluster_id == cluster_id

    async with httpx.AsyncClient(base_url=local_run.gateway_url(), timeout=30) as client:
        admin = await login(client, local_run.admin_email, local_run.admin_password)
        fan_again = await login(client, fan.email, PASSWORD)
        after = await _what_a_user_sees(
            client, admin, fan_again, venue_id, show.event_id, booking_id
        )
        assert after == before

        # The platform carries on over the restarted broker: one more booking confirms and
        # counts against what was sold before the restart.
        second_id = await book(client, fan_again, show.event_id, stalls, 1)
        second = await wait_for_status(client, fan_again, second_id, within=60)
        assert second["status"] == "CONFIRMED", (second, local_run.log_tails())
        assert (await availability(client, show.event_id))[stalls]["available"] == 7
