"""entry's record of the Kafka cluster its offsets belong to; recovery from a new one."""

from __future__ import annotations

import asyncpg

from service_kit.broker_epoch import BrokerRecovery


class PostgresBrokerEpoch:
    """The kit's `BrokerEpoch` on entry's database: a new cluster sends every partition
    back to offset 0; applying a fact again changes nothing (tickets are keyed by booking
    and position, voids and catalog names are idempotent)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def stored_cluster_id(self) -> str | None:
        async with self._pool.acquire() as connection:
            cluster_id: str | None = await connection.fetchval(
                "SELECT cluster_id FROM broker_epoch"
            )
            return cluster_id

    async def record_cluster_id(self, cluster_id: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO broker_epoch (cluster_id) VALUES ($1) ON CONFLICT DO NOTHING",
                cluster_id,
            )

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        async with self._pool.acquire() as connection, connection.transaction():
            previous = await connection.fetchval("SELECT cluster_id FROM broker_epoch FOR UPDATE")
            if previous == cluster_id:
                return None
            dropped = await connection.fetch(
                "DELETE FROM consumer_offsets RETURNING topic, partition, next_offset"
            )
            await connection.execute(
                "INSERT INTO broker_epoch (cluster_id) VALUES ($1) ON CONFLICT (singleton) "
                "DO UPDATE SET cluster_id = EXCLUDED.cluster_id, adopted_at = now()",
                cluster_id,
            )
        offsets = ", ".join(
            f"{row['topic']}[{row['partition']}]@{row['next_offset']}" for row in dropped
        )
        return BrokerRecovery(
            republished="nothing (entry publishes no events)",
            dropped_offsets=(
                f"{len(dropped)} stored consumer offsets ({offsets or 'none'}); catalog and "
                "booking topics are read again from offset 0, tickets issued once by booking"
            ),
        )
