"""How far the projection has got, and when a command's position counts as reached.

booking-command publishes catalog and booking events in notification-id order,
with `envelope.position` = notification id. Position N is reached when some
partition has applied a message at N or later (so everything before N has been
published) and every partition of those topics has either applied a message at
N or later or applied everything that was in it when N was seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class PartitionProgress:
    topic: str
    partition: int
    next_offset: int
    last_position: int | None
    last_occurred_at: datetime | None

    @property
    def key(self) -> TopicPartition:
        return (self.topic, self.partition)

    def has_position(self, target: int) -> bool:
        return self.last_position is not None and self.last_position >= target


def position_seen(target: int, progress: Iterable[PartitionProgress]) -> bool:
    return any(partition.has_position(target) for partition in progress)


def position_reached(
    target: int,
    progress: Iterable[PartitionProgress],
    end_offsets: Mapping[TopicPartition, int],
) -> bool:
    """`end_offsets` must be read after `position_seen(target, ...)` first held."""
    by_key = {partition.key: partition for partition in progress}
    if not position_seen(target, by_key.values()):
        return False
    for key, end_offset in end_offsets.items():
        partition = by_key.get(key)
        applied = partition.next_offset if partition else 0
        if partition is not None and partition.has_position(target):
            continue
        if applied < end_offset:
            return False
    return True


def max_position(progress: Iterable[PartitionProgress]) -> int | None:
    positions = [p.last_position for p in progress if p.last_position is not None]
    return max(positions) if positions else None
