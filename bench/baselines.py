"""Baselines measured in the same round as the platform, so every platform figure is a ratio.

The HTTP baselines are driven by the same wrk scripts and connection counts as the platform.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench.cpu import CpuMeter, Finder, postgres, tree
from bench.wrk_driver import run_wrk, script
from local_infra.ports import free_port
from local_infra.postgres import create_database, drop_database
from local_infra.urls import with_path as with_database

APPS = Path(__file__).parent / "baseline_apps"
# The tutorial's design as it would be deployed: uvicorn with two worker processes.
SINGLE_SERVICE_WORKERS = 2


@asynccontextmanager
async def served(
    app: str, env: dict[str, str] | None = None, workers: int = 1
) -> AsyncIterator[tuple[str, int]]:
    """Runs `module:app` under uvicorn (one process unless `workers`): (URL, pid)."""
    port = free_port()
    # Popen returns at once; the server runs beside the event loop, not inside it.
    process = subprocess.Popen(  # noqa: ASYNC220
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--app-dir",
            str(APPS),
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        env={**os.environ, **(env or {})},
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
                        raise RuntimeError(f"{app} did not start") from None
                    await asyncio.sleep(0.1)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


@asynccontextmanager
async def minimal_app() -> AsyncIterator[str]:
    async with served("minimal_app:app") as (base_url, _):
        yield base_url


async def minimal_endpoint(base_url: str, connections: int, seconds: float) -> dict[str, Any]:
    result = await run_wrk(f"{base_url}/ping", connections=connections, seconds=seconds)
    return result.summary()


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
class PaymentProvider:
    """The payment simulator both designs charge; an external party, so its CPU is
    measured apart from each design's own."""

    url: str
    secret_key: str = field(repr=False)
    processes: dict[str, Finder]


async def single_service_booking(
    admin_url: str,
    tokens_file: Path,
    connections: int,
    seconds: float,
    provider: PaymentProvider,
) -> dict[str, Any]:
    """The one-service design under the same wrk booking script, on a ticket type that does
    not sell out within the run, charging each booking at the same payment provider as the
    platform: its steady confirmed bookings/s and CPU per booking."""
    name = f"bench_single_{uuid.uuid4().hex[:8]}"
    await create_database(admin_url, name)
    database_url = with_database(admin_url, name)
    ticket_type = uuid.uuid4()
    try:
        # 10 connections a worker: the PostgreSQL server (max_connections 100) is shared
        # with the platform under test and whatever else runs on the machine.
        env = {
            "BENCH_DATABASE_URL": database_url,
            "BENCH_POOL_SIZE": "10",
            "BENCH_PAYMENT_URL": provider.url,
            "BENCH_PAYMENT_KEY": provider.secret_key,
        }
        async with served("single_service_app:app", env, SINGLE_SERVICE_WORKERS) as (
            base_url,
            pid,
        ):
            async with httpx.AsyncClient(base_url=base_url) as client:
                created = await client.post(
                    f"/ticket-types/{ticket_type}", params={"quantity": 1_000_000_000}
                )
                created.raise_for_status()
            meter = CpuMeter(
                {
                    f"single service ({SINGLE_SERVICE_WORKERS} workers)": tree(pid),
                    "postgresql": postgres([name]),
                }
            )
            external = CpuMeter(provider.processes)
            meter.start()
            external.start()
            result = await run_wrk(
                f"{base_url}/bookings",
                connections=connections,
                seconds=seconds,
                lua=script("stats", "booking"),
                args=[
                    str(tokens_file),
                    str(uuid.uuid4()),
                    str(ticket_type),
                    "/bookings",
                    "0",
                    uuid.uuid4().hex[:16],
                ],
            )
            connection = await asyncpg.connect(database_url)
            try:
                # Requests wrk left in flight still finish their charge (30 s at most).
                for _ in range(300):
                    if not await connection.fetchval(
                        "SELECT count(*) FROM bookings WHERE status = 'PENDING'"
                    ):
                        break
                    await asyncio.sleep(0.1)
                cpu = meter.stop()
                external_cpu = external.stop()
                row = await connection.fetchrow(
                    "SELECT count(*) AS bookings, coalesce(sum(quantity), 0) AS tickets,"
                    " extract(epoch FROM max(confirmed_at)) AS last_at,"
                    " (SELECT sold FROM ticket_types WHERE id = $1) AS sold,"
                    " count(payment_reference) AS charged"
                    " FROM bookings WHERE status = 'CONFIRMED'",
                    ticket_type,
                )
            finally:
                await connection.close()
    finally:
        await drop_database(admin_url, name)
    confirmed = int(row["bookings"])
    window = (float(row["last_at"]) - result.started_wall) if row["last_at"] else 0.0
    return {
        **result.summary(),
        "confirmed_bookings": confirmed,
        "answered_201": result.statuses.get(201, 0),
        "confirmed_bookings_per_second": confirmed / window if window > 0 else 0.0,
        "tickets_sold": int(row["sold"]),
        "consistent": int(row["sold"]) == int(row["tickets"])
        and confirmed >= result.statuses.get(201, 0)
        and int(row["charged"]) == confirmed,
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
