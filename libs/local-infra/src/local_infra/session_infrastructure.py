"""Chooses where the test session's PostgreSQL, Redis and Kafka come from, and cleans up."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from local_infra.broker import KafkaBroker
from local_infra.containers import (
    docker_engine_reachable,
    kafka_container_bootstrap,
    postgres_container_url,
    redis_container_url,
)
from local_infra.postgres import can_connect
from local_infra.postgres_cluster import temporary_postgres_cluster
from local_infra.redis_server import can_ping, temporary_redis_server
from local_infra.stack import DEFAULT_POSTGRES_ADMIN_URL, DEFAULT_REDIS_URL
from local_infra.urls import redacted

logger = logging.getLogger(__name__)

POSTGRES_ENV = "TEST_DATABASE_URL"
REDIS_ENV = "TEST_REDIS_URL"
KAFKA_ENV = "TEST_KAFKA_BOOTSTRAP_SERVERS"


@dataclass(frozen=True)
class Infrastructure:
    postgres_admin_url: str
    redis_url: str
    kafka_bootstrap_servers: str
    # Component -> "environment", "testcontainers", "local" (already answering at the
    # defaults) or "session" (started for this session).
    sources: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"postgres {redacted(self.postgres_admin_url)} ({self.sources.get('postgres')}), "
            f"redis {redacted(self.redis_url)} ({self.sources.get('redis')}), "
            f"kafka {self.kafka_bootstrap_servers} ({self.sources.get('kafka')})"
        )


@asynccontextmanager
async def provide_infrastructure(
    broker_state_dir: Path, announce: Callable[[str], None] = logger.info
) -> AsyncIterator[Infrastructure]:
    """Per component: the TEST_* env URL (as it is), else testcontainers with Docker, else a
    server already answering at the defaults, else one started for the session in a
    temporary directory (stopped and deleted at the end).

    The machine's own PostgreSQL and Redis services are never started.
    """
    async with AsyncExitStack() as exit_stack:
        use_docker = not all(os.environ.get(name) for name in (POSTGRES_ENV, REDIS_ENV, KAFKA_ENV))
        use_docker = use_docker and docker_engine_reachable()
        fallback = "testcontainers" if use_docker else "local"
        sources: dict[str, str] = {}

        postgres_url = os.environ.get(POSTGRES_ENV)
        sources["postgres"] = "environment" if postgres_url else fallback
        if not postgres_url:
            if use_docker:
                postgres_url = await postgres_container_url(exit_stack)
            elif await can_connect(DEFAULT_POSTGRES_ADMIN_URL):
                postgres_url = DEFAULT_POSTGRES_ADMIN_URL
            else:
                cluster = await exit_stack.enter_async_context(temporary_postgres_cluster())
                postgres_url, sources["postgres"] = cluster.admin_url, "session"

        redis_url = os.environ.get(REDIS_ENV)
        sources["redis"] = "environment" if redis_url else fallback
        if not redis_url:
            if use_docker:
                redis_url = await redis_container_url(exit_stack)
            elif await can_ping(DEFAULT_REDIS_URL):
                redis_url = DEFAULT_REDIS_URL
            else:
                server = await exit_stack.enter_async_context(temporary_redis_server())
                redis_url, sources["redis"] = server.url, "session"

        bootstrap = os.environ.get(KAFKA_ENV)
        sources["kafka"] = (
            "environment" if bootstrap else ("testcontainers" if use_docker else "local")
        )
        if not bootstrap:
            if use_docker:
                bootstrap = await kafka_container_bootstrap(exit_stack)
            else:
                broker = KafkaBroker(broker_state_dir, port=None)
                exit_stack.callback(broker.stop)
                bootstrap = await broker.start()

        infrastructure = Infrastructure(postgres_url, redis_url, bootstrap, sources)
        announce(f"test infrastructure: {infrastructure.describe()}")
        yield infrastructure
