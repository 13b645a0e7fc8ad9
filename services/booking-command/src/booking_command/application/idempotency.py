"""Idempotency keys: a repeated request gets the original answer, stored with its effect."""

from __future__ import annotations

from collections.abc import Sequence
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
        self, write: PendingWrite, claim: IdempotencyClaim, now: datetime, version: int
    ) -> IdempotencyRecord:
        """The record that answers this claim again; committed with the write."""
        return IdempotencyRecord(
            scope=claim.scope,
            key=claim.key,
            fingerprint=claim.fingerprint,
            status_code=write.answer.status_code,
            body=write.answer.body,
            aggregate_id=write.primary.id,
            aggregate_version=version,
            created_at=now,
            expires_at=now + self.ttl,
        )

    def replay(self, claim: IdempotencyClaim) -> CommandResult | None:
        """The original answer to this key, or None when the key is new (or expired)."""
        recorder = self._store.booking_recorder
        record = recorder.find_idempotency_record(claim.scope, claim.key, self._store.clock())
        return None if record is None else self._answer(claim, record)

    def replay_many(
        self, claims: Sequence[IdempotencyClaim]
    ) -> dict[IdempotencyClaim, CommandResult | InvalidInputError]:
        """`replay` for many claims in one look-up: the answer (or the mismatch) of each
        claim whose key is in use; new keys are absent."""
        recorder = self._store.booking_recorder
        records = recorder.find_idempotency_records(
            [(claim.scope, claim.key) for claim in claims], self._store.clock()
        )
        answers: dict[IdempotencyClaim, CommandResult | InvalidInputError] = {}
        for claim in claims:
            record = records.get((claim.scope, claim.key))
            if record is None:
                continue
            try:
                answers[claim] = self._answer(claim, record)
            except InvalidInputError as error:
                answers[claim] = error
        return answers

    def _answer(self, claim: IdempotencyClaim, record: IdempotencyRecord) -> CommandResult:
        recorder = self._store.booking_recorder
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
