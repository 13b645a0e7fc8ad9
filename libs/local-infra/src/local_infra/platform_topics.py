"""The platform's topic names and partition count, from the public contracts."""

from __future__ import annotations

from ticketing_contracts.topics import ALL_TOPICS, DEFAULT_PARTITIONS


def platform_topics() -> tuple[tuple[str, ...], int]:
    """(unprefixed topic names, partitions per topic)."""
    return tuple(ALL_TOPICS), DEFAULT_PARTITIONS
