"""Point-in-time recovery with PostgreSQL's own tools: a cluster that archives its WAL, a
base backup of it, and a new cluster recovered from that backup to a moment.

What CloudNativePG (barman-cloud to an object store) or pgBackRest do on Kubernetes, here
with a directory for the archive: `archive_command` copies each WAL segment there,
`pg_basebackup` takes the base backup, and a recovery replays the archive onto a copy of the
base backup up to `recovery_target_time`, then promotes. The restore drill
(tests/e2e/test_restore_drill.py) and tests/deploy/test_point_in_time_recovery.py use it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from local_infra.errors import InfrastructureUnavailable
from local_infra.postgres_cluster import (
    PostgresCluster,
    give_to_server_user,
    server_owned_directory,
    temporary_postgres_cluster,
)
from local_infra.waiting import poll_until

WAL_ARCHIVE = "wal-archive"


def archiving_settings(archive: Path, *, archive_timeout_seconds: int = 60) -> dict[str, str]:
    """postgresql.conf of a cluster whose every WAL segment is copied into `archive` (and
    one is cut at least every `archive_timeout_seconds`: the most a lost cluster loses)."""
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"'test ! -f {archive}/%f && cp %p {archive}/%f'",
        "archive_timeout": f"{archive_timeout_seconds}s",
    }


@dataclass
class ArchivingCluster:
    cluster: PostgresCluster
    wal_archive: Path

    async def base_backup(self, name: str = "base") -> Path:
        """A base backup of the running cluster (pg_basebackup, with the WAL it needs)."""
        target = self.cluster.directory / name
        await self.cluster.run_program(
            "pg_basebackup",
            "-h", self.cluster.host,
            "-p", str(self.cluster.port),
            "-U", "postgres",
            "-D", str(target),
            "-X", "stream",
            "--checkpoint=fast",
        )  # fmt: skip
        return target

    async def archive_current_wal(self, *, wait_seconds: float = 30) -> None:
        """Cuts the current WAL segment and waits until the archive holds it, so everything
        committed so far can be recovered."""
        connection = await asyncpg.connect(self.cluster.admin_url)
        try:
            segment = await connection.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        finally:
            await connection.close()

        async def archived() -> bool:
            return bool((self.wal_archive / segment).is_file())

        if not await poll_until(archived, wait_seconds=wait_seconds):
            raise InfrastructureUnavailable(
                f"WAL segment {segment} not archived within {wait_seconds}s; "
                f"see {self.cluster.log_path}"
            )


@asynccontextmanager
async def archiving_postgres_cluster(
    *, archive_timeout_seconds: int = 60
) -> AsyncIterator[ArchivingCluster]:
    """A started cluster that archives its WAL into a directory of its own."""
    archive = server_owned_directory("local-infra-wal-archive-")
    try:
        async with temporary_postgres_cluster(
            archiving_settings(archive, archive_timeout_seconds=archive_timeout_seconds)
        ) as cluster:
            yield ArchivingCluster(cluster, archive)
    finally:
        shutil.rmtree(archive, ignore_errors=True)


@asynccontextmanager
async def recovered_cluster(
    base_backup: Path, wal_archive: Path, target_time: datetime, *, wait_seconds: float = 120
) -> AsyncIterator[PostgresCluster]:
    """A new cluster made from `base_backup` with the archived WAL replayed up to
    `target_time` (every transaction committed by then, none after), promoted and running;
    stopped and deleted afterwards."""
    if target_time.tzinfo is None:
        raise ValueError("the recovery target must be an aware time")
    directory = server_owned_directory("local-infra-recovered-")
    cluster = PostgresCluster(directory)
    try:
        await asyncio.to_thread(shutil.copytree, base_backup, cluster.data_dir)
        settings = {
            "restore_command": f"'cp {wal_archive}/%f %p'",
            "recovery_target_time": f"'{target_time.isoformat()}'",
            "recovery_target_action": "'promote'",
            # A copy, not the original: it archives nothing into the original's archive.
            "archive_mode": "off",
        }
        with (cluster.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# local_infra.point_in_time: recovery\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        (cluster.data_dir / "recovery.signal").touch()
        await asyncio.to_thread(give_to_server_user, cluster.data_dir)
        await cluster.start(wait_seconds)
        if not await poll_until(lambda: _promoted(cluster), wait_seconds=wait_seconds):
            raise InfrastructureUnavailable(
                f"the recovery to {target_time.isoformat()} did not finish within "
                f"{wait_seconds}s; see {cluster.log_path}"
            )
        yield cluster
    finally:
        if cluster.is_running():
            await cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


async def _promoted(cluster: PostgresCluster) -> bool:
    try:
        connection = await asyncpg.connect(cluster.admin_url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        return not await connection.fetchval("SELECT pg_is_in_recovery()")
    finally:
        await connection.close()
