"""Readiness probes for the dependencies the services use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from aiokafka import AIOKafkaClient
from redis.asyncio import Redis

from service_kit.kafka_security import kafka_client_options
from service_kit.settings import KafkaSettings

Probe = Callable[[], Awaitable[None]]


def postgres_pool_probe(pool: asyncpg.Pool) -> Probe:
    async def probe() -> None:
        async with pool.acquire(timeout=2) as connection:
            await connection.fetchval("SELECT 1")

    return probe


def redis_probe(client: Redis) -> Probe:
    async def probe() -> None:
        await client.ping()

    return probe


def kafka_probe(kafka: KafkaSettings | str) -> Probe:
    options = kafka_client_options(kafka)

    async def probe() -> None:
        client = AIOKafkaClient(**options, request_timeout_ms=2000)
        try:
            await client.bootstrap()
        finally:
            await client.close()

    return probe


def http_ready_probe(client: httpx.AsyncClient, base_url: str) -> Probe:
    async def probe() -> None:
        response = await client.get(f"{base_url.rstrip('/')}/health/ready", timeout=2)
        if response.status_code != 200:
            raise RuntimeError(f"{base_url} answered {response.status_code}")

    return probe
