from __future__ import annotations

import asyncpg
import pytest

from local_infra.postgres import can_connect
from local_infra.postgres_cluster import temporary_postgres_cluster

pytestmark = pytest.mark.integration


async def test_an_owned_cluster_keeps_its_data_across_a_fast_and_an_immediate_restart() -> None:
    async with temporary_postgres_cluster() as cluster:
        connection = await asyncpg.connect(cluster.admin_url)
        await connection.execute("CREATE TABLE kept (id int primary key)")
        await connection.execute("INSERT INTO kept VALUES (1)")
        await connection.close()
        first_pid = cluster.pid

        await cluster.stop("fast")
        assert not await can_connect(cluster.admin_url, connect_seconds=1)
        await cluster.start()
        await cluster.stop("immediate")
        await cluster.start()

        connection = await asyncpg.connect(cluster.admin_url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM kept") == 1
        finally:
            await connection.close()
        assert cluster.pid not in (None, first_pid)
    assert not cluster.is_running()
    assert not cluster.directory.exists()
