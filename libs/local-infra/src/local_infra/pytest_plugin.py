"""Pytest fixtures for real PostgreSQL, Redis, a Kafka-protocol broker and the running stack.

Register with `pytest_plugins = ["local_infra.pytest_plugin"]` in the root conftest.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as redis

from local_infra.platform_topics import platform_topics
from local_infra.postgres import create_database, drop_database
from local_infra.redis_server import delete_keys_with_prefix
from local_infra.secrets_env import DEFAULT_ADMIN_EMAIL, internal_token_keys, random_secret
from local_infra.services import DEFAULT_DATABASES, SERVICE_SPECS
from local_infra.session_infrastructure import Infrastructure, provide_infrastructure
from local_infra.stack import Stack, StackConfig
from local_infra.stack_state import StackInfo
from local_infra.urls import with_path

logger = logging.getLogger(__name__)

TEST_JWT_SECRET_LENGTH = 48
_SAFE_NAME = re.compile(r"[^a-z0-9_]")


def _announcer(config: pytest.Config) -> Callable[[str], None]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def announce(message: str) -> None:
        logger.info(message)
        if reporter is None:
            return
        # Fixture output is captured; this must reach the terminal as it happens.
        suspended = (
            capture.global_and_fixture_disabled()
            if capture is not None
            else contextlib.nullcontext()
        )
        with suspended:
            reporter.write_line(message)

    return announce


@pytest.fixture(scope="session")
def run_id() -> str:
    """Short, unique per test session; lowercase so it fits database names."""
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def topic_prefix(run_id: str) -> str:
    return f"test-{run_id}."


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def infrastructure(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Infrastructure]:
    broker_state_dir = tmp_path_factory.mktemp("broker")
    async with provide_infrastructure(broker_state_dir, _announcer(request.config)) as provided:
        yield provided


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def redis_key_prefix(infrastructure: Infrastructure, run_id: str) -> AsyncIterator[str]:
    prefix = f"test:{run_id}:"
    yield prefix
    await delete_keys_with_prefix(infrastructure.redis_url, prefix)


class DatabaseFactory:
    """`await factory(name)` creates `test_<run_id>_<name>` and returns its URL."""

    def __init__(self, admin_url: str, run_id: str) -> None:
        self.admin_url = admin_url
        self.run_id = run_id
        self.created: dict[str, str] = {}

    def database_name(self, name: str) -> str:
        return f"test_{self.run_id}_{_SAFE_NAME.sub('_', name.lower())}"

    async def __call__(self, name: str) -> str:
        database = self.database_name(name)
        if database not in self.created:
            await create_database(self.admin_url, database)
            self.created[database] = with_path(self.admin_url, database)
        return self.created[database]

    async def drop_all(self) -> None:
        for database in list(self.created):
            await drop_database(self.admin_url, database)
            del self.created[database]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_factory(
    infrastructure: Infrastructure, run_id: str
) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(infrastructure.postgres_admin_url, run_id)
    yield factory
    await factory.drop_all()


@pytest_asyncio.fixture(loop_scope="session")
async def redis_client(infrastructure: Infrastructure) -> AsyncIterator[redis.Redis]:
    client = redis.from_url(infrastructure.redis_url)
    yield client
    await client.aclose()


# The shared e2e stack: holds expire within seconds, so the hold-expiry journey is testable
# (a booking confirms in well under a second when inventory runs), and so does an
# unclaimed hold made over HTTP (its sweeper asks booking-command, which keeps what it
# stores); one test client signs up and logs in many users from one address.
SHARED_STACK_ENV: dict[str, str] = {
    "HOLD_TIMEOUT_SECONDS": "8",
    "HOLD_EXPIRY_INTERVAL_SECONDS": "0.5",
    "UNCLAIMED_HOLD_SECONDS": "2",
    "UNCLAIMED_HOLD_CHECK_SECONDS": "0.5",
    "RATE_LIMIT_REGISTER": "600/minute",
}


async def e2e_stack_config(
    state_dir: Path,
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    redis_key_prefix: str,
    *,
    database_namespace: str = "",
    extra_env: dict[str, str] | None = None,
    service_postgres_url: str | None = None,
) -> StackConfig:
    """A test stack's config: its own databases (`<namespace><service>`), prefixes, secrets.

    `extra_env` is added to (and may override) the stack's settings; with
    `service_postgres_url` the services reach PostgreSQL there (e.g. through a proxy).
    """
    databases = {}
    for service, default_database in DEFAULT_DATABASES.items():
        short_name = database_namespace + default_database.removeprefix("ticketing_")
        await database_factory(short_name)
        databases[service] = database_factory.database_name(short_name)
    topics, partitions = platform_topics()
    return StackConfig(
        state_dir=state_dir,
        postgres_admin_url=infrastructure.postgres_admin_url,
        service_postgres_url=service_postgres_url,
        redis_url=infrastructure.redis_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        service_ports=dict.fromkeys(SERVICE_SPECS, 0),
        mail_catcher_smtp_port=0,
        databases=databases,
        topic_prefix=topic_prefix,
        redis_key_prefix=redis_key_prefix,
        topics=topics,
        topic_partitions=partitions,
        environment="test",
        log_level="INFO",
        extra_env={
            "JWT_SECRET": random_secret(TEST_JWT_SECRET_LENGTH),
            **internal_token_keys(),
            "ADMIN_EMAIL": DEFAULT_ADMIN_EMAIL,
            "ADMIN_PASSWORD": random_secret(24),
            **(extra_env or {}),
        },
        ensure_local_servers=False,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    redis_key_prefix: str,
) -> AsyncIterator[StackInfo]:
    """The four services as real processes on free ports, ready; stopped at session end."""
    # Its own namespace: other tests in the session publish to the session prefix and
    # join groups of the same names, which must not reach or rebalance the stack.
    config = await e2e_stack_config(
        tmp_path_factory.mktemp("stack"),
        infrastructure,
        database_factory,
        f"{topic_prefix}stack.",
        f"{redis_key_prefix}stack:",
        extra_env=SHARED_STACK_ENV,
    )
    stack = Stack(config)
    announce = _announcer(request.config)
    try:
        info = await stack.start()
    except BaseException:
        announce(f"the stack did not start; service logs:\n{stack.log_tails()}")
        raise
    announce(f"stack running: gateway {info.gateway_url}, logs {info.log_dir}")
    try:
        yield info
    finally:
        if request.session.testsfailed:
            announce(f"tests failed; last lines of the service logs:\n{stack.log_tails()}")
        await stack.stop()
