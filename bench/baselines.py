"""Baselines measured in the same round as the platform, so every platform figure is a ratio.

The HTTP baselines are driven by the same wrk scripts and connection counts as the platform.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from aiokafka import AIOKafkaProducer

from bench.cpu import CpuMeter, Finder, postgres, tree
from bench.wrk_driver import run_wrk, script
from local_infra.ports import free_port
from local_infra.postgres import create_database, drop_database
from local_infra.urls import with_path as with_database

ROOT = Path(__file__).resolve().parents[1]
# The tutorial's design as it would be deployed: uvicorn with two worker processes.
SINGLE_SERVICE_WORKERS = 2
# 10 connections a worker: a connection is held only inside a transaction, never across
# a payment provider call, so a worker's 10 are not what limits it.
SINGLE_SERVICE_POOL_SIZE = 10


@dataclass(frozen=True)
class Serving:
    """What the baselines share with the platform's services: the gateway's token settings
    (`BENCH_JWT_*`: they verify the same JWTs) and whether each request is logged, as the
    services log one line per request at LOG_LEVEL INFO. Their output goes to `log_dir`."""

    jwt_env: Mapping[str, str] = field(repr=False)
    access_log: bool
    log_dir: Path


@asynccontextmanager
async def served(
    app: str, serving: Serving, env: Mapping[str, str] | None = None, workers: int = 1
) -> AsyncIterator[tuple[str, int]]:
    """Runs `bench.baseline_apps.<module:app>` under uvicorn (one process unless
    `workers`): (URL, pid)."""
    port = free_port()
    serving.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = serving.log_dir / f"{app.split(':', 1)[0]}-{port}.log"
    with log_path.open("ab") as log:
        # Popen returns at once; the server runs beside the event loop, not inside it.
        process = subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"bench.baseline_apps.{app}",
                "--port",
                str(port),
                *(
                    ["--log-level", "info", "--access-log"]
                    if serving.access_log
                    else ["--log-level", "warning", "--no-access-log"]
                ),
                "--app-dir",
                str(ROOT),
                *(["--workers", str(workers)] if workers > 1 else []),
            ],
            env={**os.environ, **serving.jwt_env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    await client.get(f"{base_url}/docs", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(f"{app} did not start; see {log_path}") from None
                    await asyncio.sleep(0.1)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def forged_token(serving: Serving) -> str:
    """A token with every claim the gateway asks for, signed with another secret."""
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "user",
        "iss": serving.jwt_env["BENCH_JWT_ISSUER"],
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "ver": 0,
    }
    return jwt.encode(claims, "not-the-platform-secret-" + uuid.uuid4().hex, algorithm="HS256")


async def refuses_forged_token(base_url: str, serving: Serving) -> bool:
    """One booking POST with a forged bearer token: the baseline must answer 401."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            "/bookings",
            json={
                "ticket_type_id": str(uuid.uuid4()),
                "quantity": 1,
                "customer_name": "Sam Fan",
                "customer_email": "fan@example.com",
                "payment_token": "tok_visa",
            },
            headers={"Authorization": f"Bearer {forged_token(serving)}"},
        )
    return response.status_code == 401


def booking_args(tokens_file: Path, ticket_type: uuid.UUID | str) -> list[str]:
    """bench/wrk/booking.lua's arguments for a baseline's POST /bookings."""
    return [
        str(tokens_file),
        str(uuid.uuid4()),
        str(ticket_type),
        "/bookings",
        "0",
        uuid.uuid4().hex[:16],
    ]


async def minimal_endpoint(
    serving: Serving, tokens_file: Path, connections: int, seconds: float
) -> dict[str, Any]:
    """The sold-out ceiling: the same wrk booking script against an endpoint that verifies
    the JWT and answers 409."""
    async with served("minimal_app:app", serving) as (base_url, _):
        refused = await refuses_forged_token(base_url, serving)
        result = await run_wrk(
            f"{base_url}/bookings",
            connections=connections,
            seconds=seconds,
            lua=script("stats", "booking"),
            args=booking_args(tokens_file, uuid.uuid4()),
        )
    return {
        **result.summary(),
        "answers_409_per_second": result.rate_of(409),
        "refuses_forged_token": refused,
    }


async def checkpoint(admin_url: str) -> None:
    """Writes out what the last load left dirty, so PostgreSQL's background writers do not
    bill it to the next load's window."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def postgres_inserts(admin_url: str, total: int, concurrency: int) -> dict[str, Any]:
    name = f"bench_inserts_{uuid.uuid4().hex[:8]}"
    await create_database(admin_url, name)
    try:
        pool = await asyncpg.create_pool(
            with_database(admin_url, name), min_size=concurrency, max_size=concurrency
        )
        async with pool.acquire() as connection:
            await connection.execute("CREATE TABLE rows (id uuid PRIMARY KEY, payload text)")
        remaining = iter(range(total))

        async def worker() -> None:
            async with pool.acquire() as connection:
                for _ in remaining:
                    await connection.execute(
                        "INSERT INTO rows VALUES ($1, $2)", uuid.uuid4(), "x" * 100
                    )

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        await pool.close()
    finally:
        await drop_database(admin_url, name)
    return {"transactions_per_second": total / elapsed}


async def kafka_produce(bootstrap: str, topic: str, total: int) -> dict[str, Any]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        payload = b"{" + b'"x": "' + b"y" * 300 + b'"}'
        started = time.perf_counter()
        futures = [
            await producer.send(topic, payload, key=str(index % 64).encode())
            for index in range(total)
        ]
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return {"messages_per_second": total / elapsed}


@dataclass(frozen=True)
class ExternalParties:
    """The payment simulator both designs charge and the mail catcher both send their
    confirmations to: external parties (a provider, an SMTP relay), so their CPU is
    measured apart from each design's own."""

    payment_url: str
    payment_secret_key: str = field(repr=False)
    smtp_host: str
    smtp_port: int
    mailbox: Path
    processes: dict[str, Finder]


def mail_count(mailbox: Path) -> int:
    """The mail the catcher holds (it writes each message whole, then renames it .eml)."""
    return sum(1 for _ in mailbox.glob("*.eml")) if mailbox.is_dir() else 0


async def single_service_booking(
    admin_url: str,
    serving: Serving,
    tokens_file: Path,
    connections: int,
    seconds: float,
    external_parties: ExternalParties,
    *,
    tickets_and_mail: bool,
) -> dict[str, Any]:
    """The one-service design under the same wrk booking script, on a ticket type that does
    not sell out within the run, charging each booking at the same payment provider as the
    platform and mailing its tickets through the same SMTP relay: its steady confirmed
    bookings/s and CPU per booking, up to the last confirmation mailed. Without
    `tickets_and_mail` it issues no tickets and sends no mail (the booking path alone)."""
    name = f"bench_single_{uuid.uuid4().hex[:8]}"
    await create_database(admin_url, name)
    database_url = with_database(admin_url, name)
    ticket_type = uuid.uuid4()
    try:
        env = {
            "BENCH_DATABASE_URL": database_url,
            "BENCH_POOL_SIZE": str(SINGLE_SERVICE_POOL_SIZE),
            "BENCH_PAYMENT_URL": external_parties.payment_url,
            "BENCH_PAYMENT_KEY": external_parties.payment_secret_key,
            "BENCH_SMTP_HOST": external_parties.smtp_host,
            "BENCH_SMTP_PORT": str(external_parties.smtp_port),
            "BENCH_TICKETS_AND_MAIL": "1" if tickets_and_mail else "0",
        }
        async with served("single_service_app:app", serving, env, SINGLE_SERVICE_WORKERS) as (
            base_url,
            pid,
        ):
            async with httpx.AsyncClient(base_url=base_url) as client:
                created = await client.post(
                    f"/ticket-types/{ticket_type}", params={"quantity": 1_000_000_000}
                )
                created.raise_for_status()
            refused = await refuses_forged_token(base_url, serving)
            meter = CpuMeter(
                {
                    f"single service ({SINGLE_SERVICE_WORKERS} workers)": tree(pid),
                    "postgresql": postgres([name]),
                }
            )
            external = CpuMeter(external_parties.processes)
            mails_before = mail_count(external_parties.mailbox)
            meter.start()
            external.start()
            result = await run_wrk(
                f"{base_url}/bookings",
                connections=connections,
                seconds=seconds,
                lua=script("stats", "booking"),
                args=booking_args(tokens_file, ticket_type),
            )
            connection = await asyncpg.connect(database_url)
            try:
                # Requests wrk left in flight still finish their charge, and confirmations
                # their mail (60 s at most).
                for _ in range(600):
                    if not await connection.fetchval(
                        "SELECT count(*) FROM bookings WHERE status = 'PENDING'"
                        " OR ($1 AND status = 'CONFIRMED' AND mail_sent_at IS NULL)",
                        tickets_and_mail,
                    ):
                        break
                    await asyncio.sleep(0.1)
                cpu = meter.stop()
                external_cpu = external.stop()
                row = await connection.fetchrow(
                    "SELECT count(*) AS bookings, coalesce(sum(quantity), 0) AS tickets,"
                    " extract(epoch FROM max(confirmed_at)) AS last_at,"
                    " (SELECT sold FROM ticket_types WHERE id = $1) AS sold,"
                    " count(payment_reference) AS charged,"
                    " count(idempotency_key) AS with_key,"
                    " count(mail_sent_at) AS mailed,"
                    " extract(epoch FROM max(mail_sent_at)) AS last_mail_at,"
                    " (SELECT count(*) FROM tickets) AS tickets_issued"
                    " FROM bookings WHERE status = 'CONFIRMED'",
                    ticket_type,
                )
            finally:
                await connection.close()
    finally:
        await drop_database(admin_url, name)
    confirmed = int(row["bookings"])
    mails_caught = mail_count(external_parties.mailbox) - mails_before
    window = (float(row["last_at"]) - result.started_wall) if row["last_at"] else 0.0
    return {
        **result.summary(),
        "confirmed_bookings": confirmed,
        "answered_201": result.statuses.get(201, 0),
        "confirmed_bookings_per_second": confirmed / window if window > 0 else 0.0,
        "tickets_sold": int(row["sold"]),
        "tickets_issued": int(row["tickets_issued"]),
        "mails_caught": mails_caught,
        "mails_done_seconds": (
            float(row["last_mail_at"]) - (result.started_wall + result.wall_seconds)
            if row["last_mail_at"]
            else math.nan
        ),
        "refuses_forged_token": refused,
        "consistent": int(row["sold"]) == int(row["tickets"])
        and confirmed >= result.statuses.get(201, 0)
        and int(row["charged"]) == confirmed
        and int(row["with_key"]) == confirmed
        and (
            not tickets_and_mail
            or (
                int(row["tickets_issued"]) == int(row["tickets"])
                and int(row["mailed"]) == confirmed
                and mails_caught == confirmed
            )
        ),
        "cpu_seconds": cpu,
        "cpu_ms_per_confirmed": {
            process: 1000 * seconds / confirmed if confirmed else float("nan")
            for process, seconds in cpu.items()
        },
        "external_cpu_ms_per_confirmed": {
            process: 1000 * seconds / confirmed if confirmed else float("nan")
            for process, seconds in external_cpu.items()
        },
    }
