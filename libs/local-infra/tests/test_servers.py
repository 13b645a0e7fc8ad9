from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as redis

from local_infra.postgres import create_database, drop_database
from local_infra.pytest_plugin import DatabaseFactory
from local_infra.redis_server import delete_keys_with_prefix
from local_infra.session_infrastructure import Infrastructure

pytestmark = pytest.mark.integration


async def _database_exists(admin_url: str, name: str) -> bool:
    connection = await asyncpg.connect(admin_url)
    try:
        return bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await connection.close()


async def test_database_factory_creates_and_drops_databases(
    infrastructure: Infrastructure, run_id: str
) -> None:
    factory = DatabaseFactory(infrastructure.postgres_admin_url, run_id)
    url = await factory("factory-check")
    name = factory.database_name("factory-check")
    connection = await asyncpg.connect(url)
    await connection.close()  # left open would be terminated by the drop anyway

    assert name == f"test_{run_id}_factory_check"
    assert await _database_exists(infrastructure.postgres_admin_url, name)

    await factory.drop_all()

    assert not await _database_exists(infrastructure.postgres_admin_url, name)


async def test_session_database_factory_returns_a_usable_url(
    database_factory: DatabaseFactory,
) -> None:
    url = await database_factory("session")
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT current_database()") == (
            database_factory.database_name("session")
        )
    finally:
        await connection.close()


async def test_create_and_drop_database_are_idempotent_and_disconnect_clients(
    infrastructure: Infrastructure, run_id: str
) -> None:
    admin_url = infrastructure.postgres_admin_url
    name = f"test_{run_id}_idempotent"
    await create_database(admin_url, name)
    await create_database(admin_url, name)
    lingering = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + f"/{name}")

    await drop_database(admin_url, name)
    await drop_database(admin_url, name)

    assert not await _database_exists(admin_url, name)
    assert lingering.is_closed() or not await _still_usable(lingering)


async def _still_usable(connection: asyncpg.Connection) -> bool:
    try:
        await connection.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    finally:
        await connection.close()
    return True


async def test_redis_key_prefix_cleanup_deletes_only_that_prefix(
    redis_client: redis.Redis, redis_key_prefix: str, infrastructure: Infrastructure
) -> None:
    await redis_client.set(f"{redis_key_prefix}a", "1")
    await redis_client.set(f"{redis_key_prefix}b", "2")
    outsider = f"outsider:{redis_key_prefix}c"
    await redis_client.set(outsider, "3")
    try:
        deleted = await delete_keys_with_prefix(infrastructure.redis_url, redis_key_prefix)
        assert deleted == 2
        assert await redis_client.exists(outsider) == 1
    finally:
        await redis_client.delete(outsider)
