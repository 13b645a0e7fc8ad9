"""Idempotency keys: a repeated request gets the original answer, stored with its effect."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking_command.application.persistence import AggregateStore
from booking_command.application.ports import IdempotencyRecord
from booking_command.application.results import CommandResult, IdempotencyClaim, PendingWrite
from service_kit.errors import InvalidInputError


class Idempotency:
    def __init__(self, store: AggregateStore, *, ttl: timedelta) -> None:
        self._store = store
        self.ttl = ttl

    def record_for(
        self, write: PendingWrite, claim: IdempotencyClaim, now: datetime
    ) -> IdempotencyRecord:
        """The record that answers this claim again; committed with the write."""
        return IdempotencyRecord(
            scope=claim.scope,
            key=claim.key,
            fingerprint=claim.fingerprint,
            status_code=write.status_code,
            body=write.body,
            aggregate_id=write.primary.id,
            aggregate_version=write.primary.version,
            created_at=now,
            expires_at=now + self.ttl,
        )

    def replay(self, claim: IdempotencyClaim) -> CommandResult | None:
        """The original answer to this key, or None when the key is new (or expired)."""
        recorder = self._store.booking_recorder
        record = recorder.find_idempotency_record(claim.scope, claim.key, self._store.clock())
        if record is None:
            return None
        if record.fingerprint != claim.fingerprint:
            raise InvalidInputError(
                "this Idempotency-Key was used with a different request",
                error_type="idempotency_key_mismatch",
            )
        position = recorder.notification_id_of(record.aggregate_id, record.aggregate_version)
        return CommandResult(
            id=record.aggregate_id,
            version=record.aggregate_version,
            position=position or 0,
            status_code=record.status_code,
            body=record.body,
            replayed=True,
        )

    def purge_expired(self) -> int:
        return self._store.booking_recorder.purge_idempotency_records(self._store.clock())
