"""Messages as the projection sees them, independent of the Kafka client."""

from __future__ import annotations

from dataclasses import dataclass

from query_projection.domain.positions import TopicPartition


@dataclass(frozen=True)
class ConsumedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def topic_partition(self) -> TopicPartition:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class DeadLetter:
    message: ConsumedMessage
    reason: str
    error: str
