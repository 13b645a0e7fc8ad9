"""Faults for the chaos tests: PostgreSQL restarted for real, the broker lost, Redis frozen
and restarted empty, the payment provider (the simulator, a real process) down or slow."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from local_infra.postgres_cluster import PostgresCluster
from local_infra.redis_server import RedisServer
from local_infra.stack import Stack
from local_infra.stack_state import StackInfo

logger = logging.getLogger(__name__)


async def restart_postgres(cluster: PostgresCluster, mode: str, down_seconds: float) -> None:
    """Stop the test's own PostgreSQL (`pg_ctl stop -m <mode>`: every connection is cut,
    new ones are refused), keep it down for `down_seconds`, start it again."""
    started = time.monotonic()
    await cluster.stop(mode)
    await asyncio.sleep(down_seconds)
    await cluster.start()
    logger.info("PostgreSQL %s restart took %.1fs", mode, time.monotonic() - started)


async def lose_the_broker(stack: Stack, down_seconds: float) -> str:
    """SIGKILL the stack's broker, then format a new cluster in its place (new cluster id;
    every topic, record and committed position is gone) on the same port; its cluster id."""
    old_cluster_id = stack.broker_cluster_id
    stack.kill_broker()
    await asyncio.sleep(down_seconds)
    new_cluster_id = await stack.start_empty_broker()
    assert new_cluster_id != old_cluster_id
    return new_cluster_id


async def lose_redis(server: RedisServer, down_seconds: float) -> tuple[float, float]:
    """Freeze the stack's Redis (SIGSTOP: connections hang, nothing is answered) for
    `down_seconds`, then kill it and start it empty on the same port, as a Redis replaced
    without its volume; when it stopped answering and when it answered again (monotonic)."""
    frozen_at = time.monotonic()
    server.freeze()
    await asyncio.sleep(down_seconds)
    server.kill()
    server.forget_data()
    await server.start()
    back_at = time.monotonic()
    logger.info("Redis frozen, then started empty after %.1fs", back_at - frozen_at)
    return frozen_at, back_at


async def payment_provider_fault(info: StackInfo, faults: dict[str, Any], seconds: float) -> None:
    """The simulator's fault injection (`PUT /_sim/faults`, e.g. `{"down": true}` or
    `{"latency_ms": 2000}`) for `seconds`, then it answers normally again."""
    async with httpx.AsyncClient(
        base_url=info.payment_provider_url, headers=info.payment_provider_headers(), timeout=10
    ) as provider:
        injected = await provider.put("/_sim/faults", json=faults)
        assert injected.status_code == 200, injected.text
        try:
            await asyncio.sleep(seconds)
        finally:
            cleared = await provider.delete("/_sim/faults")
            assert cleared.status_code == 200, cleared.text
    logger.info("payment provider %s for %.0fs", faults, seconds)
