"""query-projection's record of the Kafka cluster its read-model offsets belong to."""

from __future__ import annotations

import asyncpg

from query_projection.adapters.postgres_schema import in_schema
from service_kit.broker_epoch import BrokerRecovery

_DDL = """
CREATE TABLE IF NOT EXISTS projection.broker_epoch (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id text NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
)
"""


class PostgresBrokerEpoch:
    """The kit's `BrokerEpoch`: a new cluster sends the active generation back to offset 0;
    the version guards make applying an event again change nothing."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def stored_cluster_id(self) -> str | None:
        async with self._pool.acquire() as connection:
            await connection.execute(_DDL)
            cluster_id: str | None = await connection.fetchval(
                "SELECT cluster_id FROM projection.broker_epoch"
            )
            return cluster_id

    async def record_cluster_id(self, cluster_id: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO projection.broker_epoch (cluster_id) VALUES ($1) "
                "ON CONFLICT DO NOTHING",
                cluster_id,
            )

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        async with self._pool.acquire() as connection, connection.transaction():
            previous = await connection.fetchval(
                "SELECT cluster_id FROM projection.broker_epoch FOR UPDATE"
            )
            if previous == cluster_id:
                return None
            # The pointer's row lock keeps a rebuild from switching generations meanwhile.
            generation = await connection.fetchval(
                "SELECT generation FROM projection.read_model_pointer FOR UPDATE"
            )
            dropped = await connection.fetch(
                in_schema(
                    "UPDATE {s}.projection_offsets SET next_offset = 0 WHERE next_offset > 0 "
                    "RETURNING topic, partition",
                    generation,
                )
            )
            await connection.execute(
                "INSERT INTO projection.broker_epoch (cluster_id) VALUES ($1) "
                "ON CONFLICT (singleton) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, "
                "adopted_at = now()",
                cluster_id,
            )
        partitions = ", ".join(f"{row['topic']}[{row['partition']}]" for row in dropped)
        return BrokerRecovery(
            republished="nothing (query-projection publishes no events)",
            dropped_offsets=(
                f"the stored offsets of read-model generation {generation} "
                f"({len(dropped)} partitions back to 0: {partitions or 'none'}); events "
                "applied again are ignored by the version guards"
            ),
        )
