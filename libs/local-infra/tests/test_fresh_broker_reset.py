from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis

from local_infra.postgres import create_database, drop_database
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack import Stack, StackConfig

pytestmark = pytest.mark.integration


async def _database_exists(admin_url: str, name: str) -> bool:
    connection = await asyncpg.connect(admin_url)
    try:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await connection.close()
    return found == 1


async def test_a_fresh_broker_resets_what_was_built_from_the_old_one_but_keeps_users(
    infrastructure: Infrastructure, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    databases = {
        "booking-command": f"reset_{run}_booking",
        "query-projection": f"reset_{run}_query",
        "gateway": f"reset_{run}_gateway",
    }
    admin_url = infrastructure.postgres_admin_url
    prefix = f"reset-{run}:"
    for name in databases.values():
        await create_database(admin_url, name)
    client = redis.from_url(infrastructure.redis_url)
    await client.set(f"{prefix}booking:1", "CONFIRMED")
    await client.set(f"other-{run}:kept", "1")
    stack = Stack(
        StackConfig(
            state_dir=tmp_path,
            postgres_admin_url=admin_url,
            redis_url=infrastructure.redis_url,
            databases=databases,
            redis_key_prefix=prefix,
        )
    )
    try:
        await stack._forget_state_of_the_previous_broker()

        assert not await _database_exists(admin_url, databases["booking-command"])
        assert not await _database_exists(admin_url, databases["query-projection"])
        assert await _database_exists(admin_url, databases["gateway"])
        assert await client.get(f"{prefix}booking:1") is None
        assert await client.get(f"other-{run}:kept") == b"1"
    finally:
        await client.delete(f"other-{run}:kept")
        await client.aclose()
        for name in databases.values():
            await drop_database(admin_url, name)
