"""Helpers for driving the running platform through its public API only."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from local_infra.pytest_plugin import DatabaseFactory, e2e_stack_config
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack import Stack
from local_infra.stack_state import StackInfo

PASSWORD = "Sturdy-Horse-42"


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def admin_headers(client: httpx.AsyncClient, stack: StackInfo) -> dict[str, str]:
    return await login(client, stack.shared_env["ADMIN_EMAIL"], stack.shared_env["ADMIN_PASSWORD"])


async def wait_until_ready(base_url: str, within_seconds: float = 60) -> httpx.Response:
    """A restarted service rejoins its consumer group before it reports ready again."""
    deadline = time.monotonic() + within_seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while True:
            response = await client.get("/health/ready")
            if response.status_code == 200 or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.5)


@asynccontextmanager
async def own_stack(
    name: str,
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    redis_key_prefix: str,
    extra_env: dict[str, str],
) -> AsyncIterator[StackInfo]:
    """A stack of the test's own (databases, topics and Redis keys named after `name`), for
    tests whose settings the shared stack must not have; stopped when the block ends."""
    config = await e2e_stack_config(
        Path(tmp_path_factory.mktemp(name)),
        infrastructure,
        database_factory,
        f"{topic_prefix}{name}.",
        f"{redis_key_prefix}{name}:",
        database_namespace=f"{name}_",
        extra_env=extra_env,
    )
    stack = Stack(config)
    try:
        yield await stack.start()
    finally:
        await stack.stop()
