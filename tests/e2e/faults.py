"""Faults for the chaos tests: PostgreSQL restarted for real, the broker lost."""

from __future__ import annotations

import asyncio
import logging
import time

from local_infra.postgres_cluster import PostgresCluster
from local_infra.stack import Stack

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
    """SIGKILL the stack's broker (every topic, message and committed offset is gone),
    then start an empty one with a new cluster id on the same port; its cluster id."""
    old_cluster_id = stack.broker_cluster_id
    stack.kill_broker()
    await asyncio.sleep(down_seconds)
    new_cluster_id = await stack.start_empty_broker()
    assert new_cluster_id != old_cluster_id
    return new_cluster_id
