"""What the application needs from the event store beyond events and tracking.

The recorder writes idempotency records, booking holds and a consumer's tracking
record in the same transaction as the domain events they belong to: the application
passes them as one `RowsWithEvents` through eventsourcing's public
`Application.save(*aggregates, **kwargs)`, which hands its keyword arguments on to
`recorder.insert_events(stored_events, **kwargs)`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder, StoredEvent, Tracking


class IdempotencyKeyInUse(Exception):
    """Another request stored this key first; its record decides the answer."""


@dataclass(frozen=True)
class IdempotencyRecord:
    scope: str
    key: str
    fingerprint: str
    status_code: int
    body: dict[str, Any]
    aggregate_id: UUID
    aggregate_version: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class HoldChange:
    """A PENDING booking's hold starts (with its expiry) or ends (`expires_at` None)."""

    booking_id: UUID
    expires_at: datetime | None


@dataclass(frozen=True)
class RowsWithEvents:
    """What a save stores beside the domain events, all in one transaction."""

    idempotency: Sequence[IdempotencyRecord] = ()
    holds: Sequence[HoldChange] = ()
    # Under its own name: Application.save() passes `tracking=` itself, so a caller can't.
    tracking: Tracking | None = None

    KEYWORD: ClassVar[str] = "rows_with_events"

    def as_save_kwargs(self) -> dict[str, RowsWithEvents]:
        return {self.KEYWORD: self}

    @classmethod
    def from_save_kwargs(cls, kwargs: dict[str, Any]) -> RowsWithEvents:
        rows = kwargs.get(cls.KEYWORD)
        if rows is None:
            return cls()
        if not isinstance(rows, cls):
            raise TypeError(f"{cls.KEYWORD} must be {cls.__name__}, not {type(rows).__name__}")
        return rows


class BookingRecorder(ProcessRecorder, ABC):
    @abstractmethod
    def find_idempotency_record(
        self, scope: str, key: str, now: datetime
    ) -> IdempotencyRecord | None: ...

    @abstractmethod
    def find_idempotency_records(
        self, claims: Sequence[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], IdempotencyRecord]:
        """The live records of these (scope, key) pairs, in one look-up."""

    @abstractmethod
    def purge_idempotency_records(self, now: datetime) -> int: ...

    @abstractmethod
    def expired_holds(self, now: datetime, limit: int) -> Sequence[UUID]: ...

    @abstractmethod
    def pending_hold_count(self) -> int: ...

    @abstractmethod
    def notification_id_of(self, aggregate_id: UUID, version: int) -> int | None: ...

    @abstractmethod
    def ping(self) -> None:
        """Raises unless the store answers a statement (readiness)."""

    @abstractmethod
    def select_events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Every stored event of these aggregates, in version order, in one look-up."""

    @abstractmethod
    def broker_epoch(self) -> tuple[str, str] | None:
        """(Kafka cluster id, suffix of the tracking streams that belong to it); None: none."""

    @abstractmethod
    def record_broker_epoch(self, cluster_id: str) -> None:
        """The first cluster seen: its tracking streams keep their names (no suffix)."""

    @abstractmethod
    def adopt_broker_epoch(self, cluster_id: str) -> bool:
        """A new cluster: its tracking streams get a new suffix, so every position starts
        again at 0 while the old tracking records stay. False when already adopted."""
