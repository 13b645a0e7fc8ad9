"""entry's part of adopting a new Kafka cluster (the kit's `PostgresBrokerEpoch` runs it)."""

from __future__ import annotations

import asyncpg

from service_kit.broker_epoch import BrokerRecovery
from service_kit.postgres_broker_epoch import drop_consumer_offsets


async def read_again_from_the_start(
    connection: asyncpg.Connection, previous_cluster_id: str | None
) -> BrokerRecovery:
    """Every partition goes back to offset 0; applying a fact again changes nothing (tickets
    are keyed by booking and position, voids and catalog names are idempotent)."""
    dropped = await drop_consumer_offsets(connection)
    return BrokerRecovery(
        republished="nothing (entry publishes no events)",
        dropped_offsets=(
            f"{dropped}; catalog and booking topics are read again from offset 0, tickets "
            "issued once by booking"
        ),
    )
