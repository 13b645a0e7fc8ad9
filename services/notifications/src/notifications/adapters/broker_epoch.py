"""notifications' record of the Kafka cluster its positions belong to."""

from __future__ import annotations

import asyncpg

from service_kit.broker_epoch import BrokerRecovery


class PostgresBrokerEpoch:
    """The kit's `BrokerEpoch`: a new cluster sends every partition back to offset 0; the
    outbox is keyed by fact id, so facts read again add no notice."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def stored_cluster_id(self) -> str | None:
        async with self._pool.acquire() as connection:
            cluster_id: str | None = await connection.fetchval(
                "SELECT cluster_id FROM notifications.broker_epoch"
            )
            return cluster_id

    async def record_cluster_id(self, cluster_id: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO notifications.broker_epoch (cluster_id) VALUES ($1) "
                "ON CONFLICT DO NOTHING",
                cluster_id,
            )

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        async with self._pool.acquire() as connection, connection.transaction():
            previous = await connection.fetchval(
                "SELECT cluster_id FROM notifications.broker_epoch FOR UPDATE"
            )
            if previous == cluster_id:
                return None
            dropped = await connection.fetch(
                "DELETE FROM notifications.consumer_offsets RETURNING topic, partition, next_offset"
            )
            await connection.execute(
                "INSERT INTO notifications.broker_epoch (cluster_id) VALUES ($1) "
                "ON CONFLICT (singleton) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, "
                "adopted_at = now()",
                cluster_id,
            )
        offsets = ", ".join(
            f"{row['topic']}[{row['partition']}]@{row['next_offset']}" for row in dropped
        )
        return BrokerRecovery(
            republished="nothing (notifications publishes no events)",
            dropped_offsets=(
                f"{len(dropped)} stored consumer offsets ({offsets or 'none'}); the topics are "
                "read again from offset 0 and a fact already noticed adds no mail (fact id)"
            ),
        )
