"""PostgreSQL, Redis and Kafka in Docker through testcontainers, when an engine is reachable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

POSTGRES_IMAGE = "postgres:16-alpine"
REDIS_IMAGE = "redis:7-alpine"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.1"


def docker_engine_reachable() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure means "no usable engine"
        return False


async def _started(exit_stack: AsyncExitStack, container: Any) -> Any:
    await asyncio.to_thread(container.start)
    exit_stack.push_async_callback(asyncio.to_thread, _stop_quietly(container))
    return container


def _stop_quietly(container: Any) -> Callable[[], None]:
    def stop() -> None:
        with contextlib.suppress(Exception):
            container.stop()

    return stop


async def postgres_container_url(exit_stack: AsyncExitStack) -> str:
    from testcontainers.community.postgres import PostgresContainer

    container = await _started(exit_stack, PostgresContainer(POSTGRES_IMAGE, driver=None))
    url: str = container.get_connection_url()
    return url


async def redis_container_url(exit_stack: AsyncExitStack) -> str:
    from testcontainers.community.redis import RedisContainer

    container = await _started(exit_stack, RedisContainer(REDIS_IMAGE))
    host = container.get_container_host_ip()
    return f"redis://{host}:{container.get_exposed_port(6379)}/0"


async def kafka_container_bootstrap(exit_stack: AsyncExitStack) -> str:
    from testcontainers.community.kafka import KafkaContainer

    container = await _started(exit_stack, KafkaContainer(KAFKA_IMAGE).with_kraft())
    bootstrap: str = container.get_bootstrap_server()
    return bootstrap
