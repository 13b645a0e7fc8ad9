"""Point-in-time recovery with PostgreSQL's own tools, as the event stores' backups do on
Kubernetes (CloudNativePG: a base backup and the archived WAL, `recoveryTarget.targetTime`):
a cluster archiving its WAL, a base backup, and a new cluster recovered to a moment between
two commits holds the first and not the second."""

from __future__ import annotations

import sys
import time
from datetime import datetime

import asyncpg
import pytest

from local_infra.point_in_time import archiving_postgres_cluster, recovered_cluster

pytestmark = pytest.mark.integration


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _now(url: str) -> datetime:
    connection = await asyncpg.connect(url)
    try:
        now: datetime = await connection.fetchval("SELECT clock_timestamp()")
        return now
    finally:
        await connection.close()


async def _stored(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT label FROM stored_events ORDER BY position")
        return [row["label"] for row in rows]
    finally:
        await connection.close()


@pytest.mark.timeout(180)
async def test_a_cluster_recovered_to_a_moment_holds_every_commit_before_it_and_none_after() -> (
    None
):
    async with archiving_postgres_cluster() as archiving:
        url = archiving.cluster.admin_url
        await _execute(
            url,
            "CREATE TABLE stored_events (position bigserial PRIMARY KEY, label text NOT NULL)",
            "INSERT INTO stored_events (label) VALUES ('before the base backup')",
        )
        base_backup = await archiving.base_backup()
        await _execute(url, "INSERT INTO stored_events (label) VALUES ('after the base backup')")
        target = await _now(url)
        await _execute(url, "INSERT INTO stored_events (label) VALUES ('after the target')")
        await archiving.archive_current_wal()

        started = time.monotonic()
        async with recovered_cluster(base_backup, archiving.wal_archive, target) as recovered:
            recovery_seconds = time.monotonic() - started
            assert await _stored(recovered.admin_url) == [
                "before the base backup",
                "after the base backup",
            ]
            # Promoted: it takes writes, as the restored event store must.
            await _execute(recovered.admin_url, "INSERT INTO stored_events (label) VALUES ('new')")
        # The original never went back.
        assert await _stored(url) == [
            "before the base backup",
            "after the base backup",
            "after the target",
        ]
    sys.stderr.write(f"point-in-time recovery took {recovery_seconds:.1f}s\n")
