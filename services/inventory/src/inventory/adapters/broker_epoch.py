"""Inventory's part of adopting a new Kafka cluster (the kit's `PostgresBrokerEpoch` runs
it)."""

from __future__ import annotations

import asyncpg

from service_kit.broker_epoch import BrokerRecovery
from service_kit.postgres_broker_epoch import drop_consumer_offsets


async def republish_the_outbox(
    connection: asyncpg.Connection, previous_cluster_id: str | None
) -> BrokerRecovery:
    """Booking and catalog topics are read again from offset 0 (effects applied once by event
    id) and the whole outbox is published again, in order."""
    dropped = await drop_consumer_offsets(connection)
    # Positions of the old broker would collide with the new topics' offsets; the envelope
    # ids stay, so a redelivered message is still recognised as processed.
    # '@' never appears in a Kafka topic name.
    await connection.execute(
        "UPDATE processed_messages SET topic = topic || '@' || $1 WHERE strpos(topic, '@') = 0",
        previous_cluster_id,
    )
    republished = await connection.fetchval(
        "WITH marked AS (UPDATE outbox SET published_at = NULL RETURNING 1) "
        "SELECT count(*) FROM marked"
    )
    return BrokerRecovery(
        republished=f"the whole inventory outbox ({republished} messages, in order)",
        dropped_offsets=(
            f"{dropped}; booking and catalog topics are read again from offset 0, effects "
            "applied once by event id"
        ),
    )
