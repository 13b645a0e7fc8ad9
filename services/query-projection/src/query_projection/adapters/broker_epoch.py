"""query-projection's part of adopting a new Kafka cluster (the kit's `PostgresBrokerEpoch`
runs it)."""

from __future__ import annotations

import asyncpg

from query_projection.adapters.postgres_schema import in_schema
from service_kit.broker_epoch import BrokerRecovery

BROKER_EPOCH_TABLE = "projection.broker_epoch"


async def read_again_from_the_start(
    connection: asyncpg.Connection, previous_cluster_id: str | None
) -> BrokerRecovery:
    """The active generation goes back to offset 0; the version guards make applying an
    event again change nothing."""
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
    partitions = ", ".join(f"{row['topic']}[{row['partition']}]" for row in dropped)
    return BrokerRecovery(
        republished="nothing (query-projection publishes no events)",
        dropped_offsets=(
            f"the stored offsets of read-model generation {generation} "
            f"({len(dropped)} partitions back to 0: {partitions or 'none'}); events "
            "applied again are ignored by the version guards"
        ),
    )
