"""Point-in-time recovery of the event stores: with PostgreSQL's own tools, as the stores'
backups do on Kubernetes (CloudNativePG: a base backup and the archived WAL,
`recoveryTarget.targetTime`), a new cluster recovered to a moment between two commits holds
the first and not the second; and the manifests archive and recover as
docs/runbooks/disaster-recovery.md says."""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime

import asyncpg
import pytest
import yaml

from local_infra.point_in_time import archiving_postgres_cluster, recovered_cluster

from .conftest import K8S, ROOT, Manifest, by_kind


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


@pytest.mark.integration
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


DISASTER_RECOVERY = ROOT / "docs" / "runbooks" / "disaster-recovery.md"
EVENT_STORES = {"booking-events": "ticketing_booking", "inventory-ledger": "ticketing_inventory"}


def _stated_rpo_seconds() -> int:
    stated = re.search(
        r"RPO for a store recovered from its archive: \*\*(\d+) s\*\*",
        DISASTER_RECOVERY.read_text(),
    )
    assert stated, f"{DISASTER_RECOVERY} states no RPO for a recovery from the archive"
    return int(stated.group(1))


def test_every_event_store_archives_its_wal_as_the_disaster_recovery_page_says(
    rendered: dict[str, list[Manifest]],
) -> None:
    clusters = by_kind(rendered["prod"], "Cluster")
    backups = by_kind(rendered["prod"], "ScheduledBackup")
    rpo = _stated_rpo_seconds()

    assert {name: c["spec"]["bootstrap"]["initdb"]["database"] for name, c in clusters.items()} == (
        EVENT_STORES
    )
    for name, cluster in clusters.items():
        spec = cluster["spec"]
        assert spec["postgresql"]["parameters"]["archive_timeout"] == f"{rpo}s", name
        # A lost primary loses nothing acknowledged: a synchronous standby has every commit.
        assert spec["instances"] >= 3, name
        assert spec["minSyncReplicas"] >= 1, name
        assert spec["backup"]["barmanObjectStore"]["wal"], name
        assert [b for b in backups.values() if b["spec"]["cluster"]["name"] == name], name
    # dev keeps PostgreSQL elsewhere (and the dumps).
    assert not by_kind(rendered["dev"], "Cluster")


def test_the_recovery_manifest_recovers_an_event_store_from_its_archive_into_a_path_of_its_own(
    rendered: dict[str, list[Manifest]],
) -> None:
    recovery = yaml.safe_load((K8S / "jobs" / "recover-event-store.yaml").read_text())
    original = by_kind(rendered["prod"], "Cluster")["booking-events"]["spec"]
    spec = recovery["spec"]
    bootstrap = spec["bootstrap"]["recovery"]
    (source,) = [c for c in spec["externalClusters"] if c["name"] == bootstrap["source"]]

    archive = original["backup"]["barmanObjectStore"]["destinationPath"]
    assert source["barmanObjectStore"]["destinationPath"] == archive
    assert source["barmanObjectStore"]["serverName"] == "booking-events"
    assert spec["backup"]["barmanObjectStore"]["destinationPath"] != archive
    target = datetime.fromisoformat(bootstrap["recoveryTarget"]["targetTime"])
    assert target.tzinfo is not None
    assert (bootstrap["database"], bootstrap["owner"]) == (
        original["bootstrap"]["initdb"]["database"],
        original["bootstrap"]["initdb"]["owner"],
    )
    assert spec["postgresql"] == original["postgresql"]
