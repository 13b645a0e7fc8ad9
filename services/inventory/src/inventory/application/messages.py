"""Messages as the use cases see them: decoded, with where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import PublicEvent


@dataclass(frozen=True, order=True)
class MessagePosition:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class OutgoingMessage:
    """A row of the outbox: published to `topic` by the relay, in insertion order."""

    message_id: UUID
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class DecodedMessage:
    position: MessagePosition
    envelope: EventEnvelope
    event: PublicEvent
    trace_headers: tuple[tuple[str, bytes], ...] = ()
    """The trace its outcomes continue (`traceparent` of its processing span)."""


class ProcessedAs:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True)
class ProcessedMessage:
    position: MessagePosition
    message_id: UUID | None
    processed_as: str
