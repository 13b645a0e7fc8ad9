"""Kafka topic names. Deployments may put a prefix in front (KAFKA_TOPIC_PREFIX)."""

from __future__ import annotations

from typing import Final

CATALOG_EVENTS: Final = "ticketing.catalog.v1"
BOOKING_EVENTS: Final = "ticketing.booking.v1"
INVENTORY_EVENTS: Final = "ticketing.inventory.v1"
DEAD_LETTERS: Final = "ticketing.dead-letter.v1"

ALL_TOPICS: Final = (CATALOG_EVENTS, BOOKING_EVENTS, INVENTORY_EVENTS, DEAD_LETTERS)

# Partitions bound the consumer replicas per group; keys are show ids, so a show's
# whole history stays in one partition.
DEFAULT_PARTITIONS: Final = 6


def prefixed(prefix: str, topic: str) -> str:
    return f"{prefix}{topic}"
