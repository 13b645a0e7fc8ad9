"""The provider's ledger in PostgreSQL: payment intents and their refunds.

Idempotency rests on unique keys: two concurrent requests with one key insert one row
(`ON CONFLICT DO NOTHING`), and the loser answers with the winner's intent. Captures,
cancels and refunds lock their intent row, so concurrent ones never over-capture or
over-refund.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from payment_simulator import domain
from payment_simulator.domain import Card, Status
from payment_simulator.errors import IdempotencyConflict, InvalidRequest, NotFound
from payment_simulator.schemas import (
    CapturePaymentIntent,
    CreatePaymentIntent,
    CreateRefund,
    PaymentIntent,
    Refund,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS payment_intents (
    id text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    request_fingerprint text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    amount_received bigint NOT NULL DEFAULT 0 CHECK (amount_received BETWEEN 0 AND amount),
    amount_refunded bigint NOT NULL DEFAULT 0,
    currency text NOT NULL,
    status text NOT NULL,
    capture_method text NOT NULL,
    payment_method text NOT NULL,
    metadata jsonb NOT NULL,
    description text,
    last_payment_error jsonb,
    created bigint NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    CONSTRAINT never_over_refunded CHECK (amount_refunded BETWEEN 0 AND amount_received)
);
CREATE INDEX IF NOT EXISTS payment_intents_by_booking
    ON payment_intents ((metadata ->> 'booking_id'));

CREATE TABLE IF NOT EXISTS refunds (
    id text PRIMARY KEY,
    payment_intent text NOT NULL REFERENCES payment_intents (id),
    idempotency_key text UNIQUE,
    request_fingerprint text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    reason text,
    metadata jsonb NOT NULL,
    created bigint NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX IF NOT EXISTS refunds_by_intent ON refunds (payment_intent);
"""
# Replicas start together; one creates the schema, the others wait for it.
_SCHEMA_LOCK = 0x5041_594D


async def _json_codecs(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


async def open_pool(dsn: str, max_size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=max_size, timeout=5, command_timeout=10, init=_json_codecs
    )
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        await connection.execute(SCHEMA)
    return pool


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _refund(row: asyncpg.Record) -> Refund:
    return Refund(
        id=row["id"],
        payment_intent=row["payment_intent"],
        amount=row["amount"],
        currency=row["currency"],
        reason=row["reason"],
        metadata=row["metadata"],
        idempotency_key=row["idempotency_key"],
        created=row["created"],
    )


def _intent(row: asyncpg.Record, refunds: Sequence[Refund]) -> PaymentIntent:
    return PaymentIntent(
        id=row["id"],
        amount=row["amount"],
        amount_received=row["amount_received"],
        amount_refunded=row["amount_refunded"],
        currency=row["currency"],
        status=row["status"],
        capture_method=row["capture_method"],
        payment_method=row["payment_method"],
        idempotency_key=row["idempotency_key"],
        metadata=row["metadata"],
        description=row["description"],
        created=row["created"],
        last_payment_error=row["last_payment_error"],
        refunds=list(refunds),
    )


@dataclass(frozen=True)
class Created:
    intent: PaymentIntent
    # False when the key was seen before: the answer is the stored intent, nothing charged.
    new: bool


class PaymentLedger:
    def __init__(self) -> None:
        self._pool: asyncpg.Pool | None = None

    def attach(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the ledger has no database pool yet")
        return self._pool

    async def _with_refunds(
        self, connection: asyncpg.Connection, rows: Sequence[asyncpg.Record]
    ) -> list[PaymentIntent]:
        refund_rows = await connection.fetch(
            "SELECT * FROM refunds WHERE payment_intent = ANY($1::text[]) ORDER BY seq",
            [row["id"] for row in rows],
        )
        refunds: dict[str, list[Refund]] = {}
        for refund_row in refund_rows:
            refunds.setdefault(refund_row["payment_intent"], []).append(_refund(refund_row))
        return [_intent(row, refunds.get(row["id"], [])) for row in rows]

    async def _one(self, connection: asyncpg.Connection, row: asyncpg.Record) -> PaymentIntent:
        if row["amount_refunded"] == 0:
            return _intent(row, [])
        (intent,) = await self._with_refunds(connection, [row])
        return intent

    async def create_intent(
        self, request: CreatePaymentIntent, card: Card, idempotency_key: str
    ) -> Created:
        status = domain.status_after_authorisation(card, request.capture_method)
        error = None
        if not card.approved:
            error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": card.decline_code,
                "message": card.decline_message,
            }
        fingerprint = request.fingerprint()
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(
                """
                INSERT INTO payment_intents (
                    id, idempotency_key, request_fingerprint, amount, amount_received,
                    currency, status, capture_method, payment_method, metadata, description,
                    last_payment_error, created)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING *
                """,
                _new_id("pi"),
                idempotency_key,
                fingerprint,
                request.amount,
                request.amount if status is Status.SUCCEEDED else 0,
                request.currency,
                status.value,
                request.capture_method,
                request.payment_method,
                request.metadata,
                request.description,
                error,
                int(time.time()),
            )
            if row is not None:
                return Created(await self._one(connection, row), new=True)
            row = await connection.fetchrow(
                "SELECT * FROM payment_intents WHERE idempotency_key = $1", idempotency_key
            )
            assert row is not None, "a conflicting key is never deleted"
            if row["request_fingerprint"] != fingerprint:
                raise IdempotencyConflict(
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with; this key created {row['id']}."
                )
            return Created(await self._one(connection, row), new=False)

    async def intent(self, intent_id: str) -> PaymentIntent:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT * FROM payment_intents WHERE id = $1", intent_id
            )
            if row is None:
                raise NotFound(f"No such payment_intent: '{intent_id}'", param="intent")
            return await self._one(connection, row)

    async def intents(
        self,
        *,
        idempotency_key: str | None = None,
        booking_id: str | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> list[PaymentIntent]:
        """Newest first when `limit` is given (after the intent `starting_after`: the next
        page, as the provider's list pages), else every intent, oldest first."""
        conditions, arguments = [], []
        for column, value in (
            ("idempotency_key", idempotency_key),
            ("metadata ->> 'booking_id'", booking_id),
        ):
            if value is not None:
                arguments.append(value)
                conditions.append(f"{column} = ${len(arguments)}")
        if starting_after is not None:
            async with self.pool.acquire() as connection:
                after = await connection.fetchval(
                    "SELECT seq FROM payment_intents WHERE id = $1", starting_after
                )
            if after is None:
                raise NotFound(
                    f"No such payment_intent: '{starting_after}'", param="starting_after"
                )
            arguments.append(after)
            conditions.append(f"seq < ${len(arguments)}")
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        order = "ORDER BY seq DESC" if limit is not None else "ORDER BY seq"
        limited = f"LIMIT {int(limit)}" if limit is not None else ""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                f"SELECT * FROM payment_intents {where} {order} {limited}",  # noqa: S608 - fixed SQL
                *arguments,
            )
            return await self._with_refunds(connection, rows)

    async def _locked(self, connection: asyncpg.Connection, intent_id: str) -> asyncpg.Record:
        row = await connection.fetchrow(
            "SELECT * FROM payment_intents WHERE id = $1 FOR UPDATE", intent_id
        )
        if row is None:
            raise NotFound(f"No such payment_intent: '{intent_id}'", param="intent")
        return row

    async def capture(self, intent_id: str, request: CapturePaymentIntent) -> PaymentIntent:
        async with self.pool.acquire() as connection, connection.transaction():
            row = await self._locked(connection, intent_id)
            amount = domain.amount_to_capture(
                Status(row["status"]), row["amount"], request.amount_to_capture
            )
            if amount is not None:
                row = await connection.fetchrow(
                    "UPDATE payment_intents SET status = $2, amount_received = $3 "
                    "WHERE id = $1 RETURNING *",
                    intent_id,
                    Status.SUCCEEDED.value,
                    amount,
                )
            return await self._one(connection, row)

    async def cancel(self, intent_id: str) -> PaymentIntent:
        async with self.pool.acquire() as connection, connection.transaction():
            row = await self._locked(connection, intent_id)
            if domain.can_cancel(Status(row["status"])):
                row = await connection.fetchrow(
                    "UPDATE payment_intents SET status = $2 WHERE id = $1 RETURNING *",
                    intent_id,
                    Status.CANCELED.value,
                )
            return await self._one(connection, row)

    async def refund(self, request: CreateRefund, idempotency_key: str | None) -> Refund:
        fingerprint = request.fingerprint()
        async with self.pool.acquire() as connection, connection.transaction():
            try:
                intent = await self._locked(connection, request.payment_intent)
            except NotFound as missing:
                raise InvalidRequest(
                    missing.message, code=missing.code, param="payment_intent"
                ) from None
            if idempotency_key is not None:
                seen = await self._refund_by_key(connection, idempotency_key, fingerprint)
                if seen is not None:
                    return seen
            amount = domain.refund_amount(
                Status(intent["status"]),
                intent["amount_received"],
                intent["amount_refunded"],
                request.amount,
            )
            row = await connection.fetchrow(
                """
                INSERT INTO refunds (id, payment_intent, idempotency_key, request_fingerprint,
                                     amount, currency, reason, metadata, created)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING *
                """,
                _new_id("re"),
                request.payment_intent,
                idempotency_key,
                fingerprint,
                amount,
                intent["currency"],
                request.reason,
                request.metadata,
                int(time.time()),
            )
            if row is None:
                # The same key, used at the same moment for another intent, won.
                assert idempotency_key is not None
                seen = await self._refund_by_key(connection, idempotency_key, fingerprint)
                assert seen is not None
                return seen
            await connection.execute(
                "UPDATE payment_intents SET amount_refunded = amount_refunded + $2 WHERE id = $1",
                request.payment_intent,
                amount,
            )
            return _refund(row)

    async def _refund_by_key(
        self, connection: asyncpg.Connection, idempotency_key: str, fingerprint: str
    ) -> Refund | None:
        row: Any = await connection.fetchrow(
            "SELECT * FROM refunds WHERE idempotency_key = $1", idempotency_key
        )
        if row is None:
            return None
        if row["request_fingerprint"] != fingerprint:
            raise IdempotencyConflict(
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with; this key created {row['id']}."
            )
        return _refund(row)
