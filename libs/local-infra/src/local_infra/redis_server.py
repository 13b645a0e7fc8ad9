"""Make sure Redis answers, and clean up keys by prefix."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import redis.asyncio as redis
from redis.exceptions import RedisError

from local_infra.errors import InfrastructureUnavailable
from local_infra.urls import is_loopback, port_of, redacted
from local_infra.waiting import poll_until

logger = logging.getLogger(__name__)

DEFAULT_REDIS_PORT = 6379
DEBIAN_REDIS_DIR = Path("/var/lib/redis")
DEBIAN_REDIS_LOG_DIR = Path("/var/log/redis")
HOW_TO_GET_REDIS = (
    "Install Redis (Debian/Ubuntu: `apt-get install redis-server`) and start it "
    "(`redis-server --daemonize yes --bind 127.0.0.1 --port 6379`), or point the URL "
    "at a running server (tests: TEST_REDIS_URL)."
)


async def can_ping(url: str, connect_seconds: float = 3.0) -> bool:
    client = redis.from_url(
        url, socket_connect_timeout=connect_seconds, socket_timeout=connect_seconds
    )
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


def _redis_server_command(port: int) -> list[str] | None:
    executable = shutil.which("redis-server")
    if executable is None:
        return None
    data_dir = DEBIAN_REDIS_DIR if DEBIAN_REDIS_DIR.is_dir() else Path("/tmp")  # noqa: S108
    log_file = str(DEBIAN_REDIS_LOG_DIR / "ci.log") if DEBIAN_REDIS_LOG_DIR.is_dir() else ""
    return [
        executable,
        "--daemonize", "yes",
        "--bind", "127.0.0.1", "-::1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(data_dir),
        "--logfile", log_file,
    ]  # fmt: skip


async def ensure_redis(url: str, *, start_timeout: float = 15.0) -> None:
    """Return when Redis at `url` answers PING, starting a local redis-server if needed."""
    if await can_ping(url):
        return
    command = _redis_server_command(port_of(url, DEFAULT_REDIS_PORT)) if is_loopback(url) else None
    if command is None:
        raise InfrastructureUnavailable(
            f"Redis is not reachable at {redacted(url)}. {HOW_TO_GET_REDIS}"
        )
    logger.info("starting redis-server: %s", " ".join(command))
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if not await poll_until(lambda: can_ping(url), wait_seconds=start_timeout, interval=0.3):
        raise InfrastructureUnavailable(
            f"Started redis-server (exit {process.returncode}: {output.decode().strip()!r}) but "
            f"{redacted(url)} still does not answer after {start_timeout:.0f}s. {HOW_TO_GET_REDIS}"
        )


async def delete_keys_with_prefix(url: str, prefix: str) -> int:
    """Delete every key starting with `prefix` (SCAN, never KEYS); returns how many."""
    if not prefix:
        raise ValueError("refusing to delete every key: the prefix is empty")
    client = redis.from_url(url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{_glob_escaped(prefix)}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += await client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += await client.unlink(*batch)
    finally:
        await client.aclose()
    return deleted


def _glob_escaped(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
