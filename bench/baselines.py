"""Baselines measured in the same run as the platform, so every platform figure is a ratio."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench.load_client import run_load, summarise
from local_infra.ports import free_port
from local_infra.postgres import create_database, drop_database
from local_infra.urls import with_path as with_database

APPS = Path(__file__).parent / "baseline_apps"


@asynccontextmanager
async def served(app: str, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """Runs `module:app` under one uvicorn process, as each platform service runs."""
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
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=15)


async def minimal_endpoint(total: int, concurrency: int) -> dict[str, Any]:
    async with served("minimal_app:app") as base_url:
        result = await run_load(
            base_url, lambda client, _: client.get("/ping"), total=total, concurrency=concurrency
        )
    return {
        "requests_per_second": result.requests_per_second,
        "requests": result.requests,
        "errors": result.errors,
        **summarise(result.latencies),
    }


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


async def single_service_booking(
    admin_url: str, capacity: int, requests: int, concurrency: int, seed: int = 7
) -> dict[str, Any]:
    name = f"bench_single_{uuid.uuid4().hex[:8]}"
    await create_database(admin_url, name)
    ticket_type = uuid.uuid4()
    quantities = random.Random(seed).choices(range(1, 5), k=requests)
    try:
        env = {"BENCH_DATABASE_URL": with_database(admin_url, name)}
        async with served("single_service_app:app", env) as base_url:
            async with httpx.AsyncClient(base_url=base_url) as client:
                await client.post(f"/ticket-types/{ticket_type}", params={"quantity": capacity})

            def book(client: httpx.AsyncClient, index: int) -> Any:
                return client.post(
                    "/bookings",
                    json={
                        "ticket_type_id": str(ticket_type),
                        "quantity": quantities[index],
                        "customer_email": f"fan{index}@example.com",
                    },
                )

            result = await run_load(base_url, book, total=requests, concurrency=concurrency)
            async with httpx.AsyncClient(base_url=base_url) as client:
                stock = (await client.get(f"/ticket-types/{ticket_type}")).json()
    finally:
        await drop_database(admin_url, name)
    confirmed = result.statuses.get(201, 0)
    # The sell-out window: from the first request to the last booking confirmed (201).
    last_confirmed = max((at for at, _, _, status in result.timeline if status == 201), default=0)
    return {
        "requests_per_second": result.requests_per_second,
        "confirmed_bookings_per_second": confirmed / last_confirmed if last_confirmed else 0.0,
        "confirmed_bookings_per_second_whole_run": confirmed / result.duration,
        "sell_out_seconds": last_confirmed,
        "requests": result.requests,
        "errors": result.errors,
        "statuses": {str(code): count for code, count in sorted(result.statuses.items())},
        "timeline": [
            (round(at, 4), round(lat, 5), status) for at, lat, _, status in result.timeline
        ],
        "confirmed_bookings": confirmed,
        "tickets_sold": stock["sold"],
        "oversold": stock["sold"] > capacity or stock["booked"] != stock["sold"],
        **summarise(result.latencies),
    }
