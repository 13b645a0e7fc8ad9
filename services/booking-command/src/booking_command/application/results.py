"""What a handler hands back (a `Change`), what the bus stores (`PendingWrite`) and what
the caller is told (`Answer`, in a `CommandResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from booking_command.application.ports import TicketsToHold
from ticketing_contracts.waitlist import TicketTypeChangeQuestion

ResultT = TypeVar("ResultT", covariant=True)


@dataclass(frozen=True)
class IdempotencyClaim:
    """A caller's `Idempotency-Key` and the fingerprint of the request it came with."""

    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Change(Generic[ResultT]):
    """What a handler did: its domain result and every aggregate it changed, the one the
    caller is answered about first."""

    result: ResultT
    aggregates: tuple[Aggregate, ...]
    hold: TicketsToHold | None = None
    """A new booking's tickets, to be held by inventory before the change is stored."""
    question: TicketTypeChangeQuestion | None = None
    """A lower quantity or a removal, to be agreed by inventory before it is stored."""

    @property
    def primary(self) -> Aggregate:
        return self.aggregates[0]


@dataclass(frozen=True)
class Answer:
    """What the caller is told (the entrypoint's choice), kept with an Idempotency-Key."""

    status_code: int
    body: dict[str, Any]


@dataclass
class PendingWrite:
    """A change to store in the next commit, with the answer it gives."""

    aggregates: tuple[Aggregate, ...]
    answer: Answer
    correlation_id: str
    idempotency: IdempotencyClaim | None = None
    traceparent: str | None = None

    @property
    def primary(self) -> Aggregate:
        return self.aggregates[0]


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
