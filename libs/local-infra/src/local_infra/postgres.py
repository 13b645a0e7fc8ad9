"""Make sure PostgreSQL answers, and create or drop databases on it."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from pathlib import Path

import asyncpg

from local_infra.errors import InfrastructureUnavailable
from local_infra.urls import is_loopback, redacted
from local_infra.waiting import poll_until

logger = logging.getLogger(__name__)

DEBIAN_CLUSTERS_DIR = Path("/etc/postgresql")
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
HOW_TO_GET_POSTGRES = (
    "Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`) and start it "
    "(`pg_ctlcluster --skip-systemctl-redirect <version> main start`), or point the "
    "URL at a running server (tests: TEST_DATABASE_URL)."
)


async def can_connect(url: str, connect_seconds: float = 3.0) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=connect_seconds)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


def _debian_cluster_versions() -> list[str]:
    if shutil.which("pg_ctlcluster") is None or not DEBIAN_CLUSTERS_DIR.is_dir():
        return []
    return sorted(entry.name for entry in DEBIAN_CLUSTERS_DIR.iterdir() if entry.is_dir())


async def _start_debian_clusters(versions: list[str]) -> None:
    for version in versions:
        logger.info("starting PostgreSQL cluster %s/main", version)
        process = await asyncio.create_subprocess_exec(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            "start",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        # Exit code 2 means "already running"; anything else is reported only
        # if the server then still does not answer.
        if process.returncode not in (0, 2):
            logger.warning("pg_ctlcluster %s main start: %s", version, output.decode().strip())


async def ensure_postgres(url: str, *, start_timeout: float = 30.0) -> None:
    """Return when PostgreSQL at `url` accepts connections, starting a local cluster if needed."""
    if await can_connect(url):
        return
    versions = _debian_cluster_versions() if is_loopback(url) else []
    if not versions:
        raise InfrastructureUnavailable(
            f"PostgreSQL is not reachable at {redacted(url)}. {HOW_TO_GET_POSTGRES}"
        )
    await _start_debian_clusters(versions)
    if not await poll_until(lambda: can_connect(url), wait_seconds=start_timeout, interval=0.5):
        raise InfrastructureUnavailable(
            f"Started the local PostgreSQL cluster(s) {versions} but {redacted(url)} still "
            f"refuses connections after {start_timeout:.0f}s. {HOW_TO_GET_POSTGRES}"
        )


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
