"""Inventory's record of the Kafka cluster its offsets belong to; recovery from a new one."""

from __future__ import annotations

import asyncpg

from service_kit.broker_epoch import BrokerRecovery


class PostgresBrokerEpoch:
    """The kit's `BrokerEpoch` on inventory's database."""

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
            # Positions of the old broker would collide with the new topics' offsets; the
            # envelope ids stay, so a redelivered message is still recognised as processed.
            # '@' never appears in a Kafka topic name.
            await connection.execute(
                "UPDATE processed_messages SET topic = topic || '@' || $1 "
                "WHERE strpos(topic, '@') = 0",
                previous,
            )
            republished = await connection.fetchval(
                "WITH marked AS (UPDATE outbox SET published_at = NULL RETURNING 1) "
                "SELECT count(*) FROM marked"
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
            republished=f"the whole inventory outbox ({republished} messages, in order)",
            dropped_offsets=(
                f"{len(dropped)} stored consumer offsets ({offsets or 'none'}); booking and "
                "catalog topics are read again from offset 0, effects applied once by event id"
            ),
        )
