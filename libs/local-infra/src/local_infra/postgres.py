"""Make sure PostgreSQL answers (ours, when nobody else's does), and create or drop databases."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import asyncpg

from local_infra.errors import InfrastructureUnavailable
from local_infra.ports import preferred_or_free_port
from local_infra.postgres_cluster import HOW_TO_GET_POSTGRES, PostgresCluster
from local_infra.urls import is_loopback, port_of, redacted
from local_infra.waiting import poll_until

logger = logging.getLogger(__name__)

DEFAULT_POSTGRES_PORT = 5432
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def can_connect(url: str, connect_seconds: float = 3.0) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=connect_seconds)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


async def ensure_postgres(url: str, own_directory: Path) -> str:
    """The admin URL to use: `url` when a server answers there (it is used as it is);
    else the cluster of our own in `own_directory`, started when it is not running.

    Our cluster is created on first use, flushes to disk, listens on loopback only, and
    starts on `url`'s port when that is free, else on a free port.
    """
    if await can_connect(url):
        return url
    if not is_loopback(url):
        raise InfrastructureUnavailable(
            f"PostgreSQL is not reachable at {redacted(url)}. {HOW_TO_GET_POSTGRES}"
        )
    cluster = PostgresCluster(own_directory, durable=True)
    if not cluster.is_running():
        port = preferred_or_free_port(port_of(url, DEFAULT_POSTGRES_PORT))
        cluster = PostgresCluster(own_directory, port, durable=True)
        logger.info("starting PostgreSQL in %s on port %s", own_directory, cluster.port)
        await cluster.start()
    if not await poll_until(lambda: can_connect(cluster.admin_url), wait_seconds=30):
        raise InfrastructureUnavailable(
            f"our PostgreSQL in {own_directory} runs but {cluster.admin_url} refuses "
            f"connections; see {cluster.log_path}"
        )
    return cluster.admin_url


async def stop_own_postgres(own_directory: Path) -> bool:
    """Stop the cluster `ensure_postgres` started in `own_directory`; False if none ran."""
    cluster = PostgresCluster(own_directory)
    if not cluster.is_running():
        return False
    logger.info("stopping PostgreSQL in %s", own_directory)
    await cluster.stop("fast")
    return True


def _checked_name(name: str) -> str:
    if not _DATABASE_NAME.match(name):
        raise ValueError(
            f"database name {name!r} must be lowercase letters, digits and '_' (max 63)"
        )
    return name


async def create_database(admin_url: str, name: str) -> None:
    """Create database `name` unless it exists."""
    name = _checked_name(name)
    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            return
    finally:
        await connection.close()


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` if it exists, disconnecting whoever is still on it."""
    name = _checked_name(name)
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        # FORCE covers clients that reconnect between the terminate and the drop.
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
