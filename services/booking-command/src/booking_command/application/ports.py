"""What the application needs from the event store beyond events and tracking.

The recorder writes idempotency records and booking holds in the same transaction
as the domain events they belong to (`save(..., idempotency=..., holds=...)`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder


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


class BookingRecorder(ProcessRecorder, ABC):
    @abstractmethod
    def find_idempotency_record(
        self, scope: str, key: str, now: datetime
    ) -> IdempotencyRecord | None: ...

    @abstractmethod
    def purge_idempotency_records(self, now: datetime) -> int: ...

    @abstractmethod
    def expired_holds(self, now: datetime, limit: int) -> Sequence[UUID]: ...

    @abstractmethod
    def pending_hold_count(self) -> int: ...

    @abstractmethod
    def notification_id_of(self, aggregate_id: UUID, version: int) -> int | None: ...
