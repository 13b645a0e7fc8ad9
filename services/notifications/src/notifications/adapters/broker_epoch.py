"""notifications' part of adopting a new Kafka cluster (the kit's `PostgresBrokerEpoch`
runs it)."""

from __future__ import annotations

import asyncpg

from service_kit.broker_epoch import BrokerRecovery
from service_kit.postgres_broker_epoch import drop_consumer_offsets

BROKER_EPOCH_TABLE = "notifications.broker_epoch"


async def read_again_from_the_start(
    connection: asyncpg.Connection, previous_cluster_id: str | None
) -> BrokerRecovery:
    """Every partition goes back to offset 0; the outbox is keyed by fact id, so facts read
    again add no notice."""
    dropped = await drop_consumer_offsets(connection, "notifications.consumer_offsets")
    return BrokerRecovery(
        republished="nothing (notifications publishes no events)",
        dropped_offsets=(
            f"{dropped}; the topics are read again from offset 0 and a fact already noticed "
            "adds no mail (fact id)"
        ),
    )
