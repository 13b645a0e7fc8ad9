"""What a use case hands back: a write to commit, then the caller's answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from booking_command.application.ports import TicketsToHold
from service_kit.request_context import current_correlation_id, new_id
from service_kit.tracing import current_traceparent


@dataclass(frozen=True)
class IdempotencyClaim:
    """A caller's `Idempotency-Key` and the fingerprint of the request it came with."""

    scope: str
    key: str
    fingerprint: str


@dataclass
class PendingWrite:
    """Changed aggregates (the one the caller asked about first) and the answer to give."""

    aggregates: tuple[Aggregate, ...]
    status_code: int
    body: dict[str, Any]
    correlation_id: str
    idempotency: IdempotencyClaim | None = None
    traceparent: str | None = None
    hold: TicketsToHold | None = None
    """A new booking's tickets, held by inventory before the write is stored."""

    @property
    def primary(self) -> Aggregate:
        return self.aggregates[0]


def pending_write(status_code: int, body: dict[str, Any], *aggregates: Aggregate) -> PendingWrite:
    """A write in the current request's flow (its correlation id, or a new one)."""
    return PendingWrite(
        aggregates=aggregates,
        status_code=status_code,
        body=body,
        correlation_id=current_correlation_id() or new_id(),
        traceparent=current_traceparent(),
    )


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int
    position: int
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    def response_body(self) -> dict[str, Any]:
        return {"id": str(self.id), "version": self.version, "position": self.position, **self.body}
