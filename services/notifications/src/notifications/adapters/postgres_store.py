"""The outbox and what the mails need, on notifications' PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from aiokafka import TopicPartition

from notifications.application.ports import (
    ClaimedNotice,
    DueNotice,
    FactsToRecord,
    PositionMoved,
)
from notifications.domain.attempts import NoticeStatus
from notifications.domain.notices import (
    Customer,
    EventDetails,
    Notice,
    NoticeKind,
    WaitlistOffer,
)


class PostgresFactStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def next_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT topic, partition, next_offset FROM notifications.consumer_offsets "
                "WHERE topic = ANY($1::text[])",
                list({tp.topic for tp in partitions}),
            )
        wanted = set(partitions)
        stored = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        return {tp: offset for tp, offset in stored.items() if tp in wanted}

    async def record(self, facts: FactsToRecord) -> list[NoticeKind]:
        async with self._pool.acquire() as connection, connection.transaction():
            await _move_position(connection, facts)
            if facts.customers:
                await connection.executemany(
                    """
                    INSERT INTO notifications.bookings (booking_id, event_id, ticket_type_id,
                        quantity, customer_name, customer_email, total_price, currency)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (booking_id) DO UPDATE SET customer_name = EXCLUDED.customer_name,
                        customer_email = EXCLUDED.customer_email,
                        total_price = EXCLUDED.total_price
                    """,
                    [
                        (
                            c.booking_id,
                            c.event_id,
                            c.ticket_type_id,
                            c.quantity,
                            c.name,
                            c.email,
                            c.total_price,
                            c.currency,
                        )
                        for c in facts.customers
                    ],
                )
            if facts.offers:
                await connection.executemany(
                    """
                    INSERT INTO notifications.waitlist_offers (offer_id, event_id, ticket_type_id,
                        quantity, customer_name, customer_email, expires_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7)
                    ON CONFLICT (offer_id) DO NOTHING
                    """,
                    [
                        (
                            o.offer_id,
                            o.event_id,
                            o.ticket_type_id,
                            o.quantity,
                            o.name,
                            o.email,
                            o.expires_at,
                        )
                        for o in facts.offers
                    ],
                )
            for event in facts.events:
                await connection.execute(
                    """
                    INSERT INTO notifications.events (event_id, name, starts_at)
                    VALUES ($1, $2, $3)
                    ON CONFLICT (event_id) DO UPDATE SET
                        name = COALESCE(EXCLUDED.name, notifications.events.name),
                        starts_at = COALESCE(EXCLUDED.starts_at, notifications.events.starts_at)
                    """,
                    event.event_id,
                    event.name,
                    event.starts_at,
                )
                if event.ticket_types:
                    await connection.executemany(
                        "INSERT INTO notifications.ticket_types (ticket_type_id, event_id, name) "
                        "VALUES ($1, $2, $3) ON CONFLICT (ticket_type_id) "
                        "DO UPDATE SET name = EXCLUDED.name",
                        [(tt, event.event_id, name) for tt, name in event.ticket_types.items()],
                    )
            if not facts.notices:
                return []
            added = await connection.fetch(
                """
                INSERT INTO notifications.outbox (fact_id, kind, booking_id, occurred_at, details,
                    offer_id)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[],
                    $5::jsonb[], $6::uuid[])
                ON CONFLICT (fact_id) DO NOTHING
                RETURNING kind
                """,
                [n.fact_id for n in facts.notices],
                [n.kind.value for n in facts.notices],
                [n.booking_id for n in facts.notices],
                [n.occurred_at for n in facts.notices],
                [json.dumps(n.details) for n in facts.notices],
                [n.offer_id for n in facts.notices],
            )
            return [NoticeKind(row["kind"]) for row in added]


async def _move_position(connection: asyncpg.Connection, facts: FactsToRecord) -> None:
    stored = await connection.fetchval(
        "SELECT next_offset FROM notifications.consumer_offsets "
        "WHERE topic = $1 AND partition = $2 FOR UPDATE",
        facts.topic,
        facts.partition,
    )
    if facts.continues_from is not None and facts.continues_from != (stored or 0):
        raise PositionMoved(
            f"{facts.topic}[{facts.partition}] is stored at {stored or 0}, "
            f"not {facts.continues_from} where this batch was read from"
        )
    await connection.execute(
        """
        INSERT INTO notifications.consumer_offsets AS c (topic, partition, next_offset)
        VALUES ($1, $2, $3)
        ON CONFLICT (topic, partition) DO UPDATE
        SET next_offset = GREATEST(c.next_offset, EXCLUDED.next_offset)
        """,
        facts.topic,
        facts.partition,
        facts.next_offset,
    )


_CLAIM = """
SELECT o.fact_id, o.kind, o.booking_id, o.offer_id, o.occurred_at, o.details, o.attempts,
       b.event_id, b.ticket_type_id, b.quantity, b.customer_name, b.customer_email,
       b.total_price, b.currency, e.name AS event_name, e.starts_at,
       w.event_id AS offer_event_id, w.ticket_type_id AS offer_ticket_type_id,
       w.quantity AS offer_quantity, w.customer_name AS offer_customer_name,
       w.customer_email AS offer_customer_email, w.expires_at AS offer_expires_at
FROM notifications.outbox o
LEFT JOIN notifications.bookings b ON b.booking_id = o.booking_id
LEFT JOIN notifications.waitlist_offers w ON w.offer_id = o.offer_id
LEFT JOIN notifications.events e ON e.event_id = COALESCE(b.event_id, w.event_id)
WHERE o.status = 'pending' AND o.next_attempt_at <= now()
  -- Senders run side by side: a notice waits while an earlier one about the same booking
  -- or offer is pending (being sent, or waiting to be tried again), so a fan never reads
  -- the cancellation before the confirmation.
  AND NOT EXISTS (
      SELECT 1 FROM notifications.outbox earlier
      WHERE earlier.status = 'pending'
        AND (earlier.booking_id = o.booking_id OR earlier.offer_id = o.offer_id)
        AND (earlier.occurred_at, earlier.fact_id) < (o.occurred_at, o.fact_id)
  )
ORDER BY o.next_attempt_at
LIMIT 1
FOR UPDATE OF o SKIP LOCKED
"""


@dataclass
class _ClaimedRow:
    connection: asyncpg.Connection
    due: DueNotice

    @property
    def _fact_id(self) -> UUID:
        return self.due.notice.fact_id

    async def sent(self, message_id: str, at: datetime) -> None:
        await self.connection.execute(
            "UPDATE notifications.outbox SET status = $2, attempts = attempts + 1, "
            "sent_at = $3, message_id = $4, last_error = NULL WHERE fact_id = $1",
            self._fact_id,
            NoticeStatus.SENT.value,
            at,
            message_id,
        )

    async def defer(self, error: str, attempts: int, until: datetime) -> None:
        await self.connection.execute(
            "UPDATE notifications.outbox SET attempts = $2, next_attempt_at = $3, "
            "last_error = $4 WHERE fact_id = $1",
            self._fact_id,
            attempts,
            until,
            error[:2000],
        )

    async def fail(self, error: str, attempts: int) -> None:
        await self.connection.execute(
            "UPDATE notifications.outbox SET status = $2, attempts = $3, last_error = $4 "
            "WHERE fact_id = $1",
            self._fact_id,
            NoticeStatus.FAILED.value,
            attempts,
            error[:2000],
        )

    async def supersede(self, reason: str) -> None:
        await self.connection.execute(
            "UPDATE notifications.outbox SET status = $2, last_error = $3 WHERE fact_id = $1",
            self._fact_id,
            NoticeStatus.SUPERSEDED.value,
            reason,
        )


def _due(row: asyncpg.Record, ticket_types: dict[UUID, str]) -> DueNotice:
    notice = Notice(
        fact_id=row["fact_id"],
        kind=NoticeKind(row["kind"]),
        booking_id=row["booking_id"],
        occurred_at=row["occurred_at"],
        details=json.loads(row["details"]),
        offer_id=row["offer_id"],
    )
    customer = None
    if row["event_id"] is not None:
        customer = Customer(
            booking_id=row["booking_id"],
            event_id=row["event_id"],
            ticket_type_id=row["ticket_type_id"],
            quantity=row["quantity"],
            name=row["customer_name"],
            email=row["customer_email"],
            total_price=row["total_price"],
            currency=row["currency"],
        )
    offer = None
    if row["offer_event_id"] is not None:
        offer = WaitlistOffer(
            offer_id=row["offer_id"],
            event_id=row["offer_event_id"],
            ticket_type_id=row["offer_ticket_type_id"],
            quantity=row["offer_quantity"],
            name=row["offer_customer_name"],
            email=row["offer_customer_email"],
            expires_at=row["offer_expires_at"],
        )
    event = None
    if row["event_name"] is not None:
        event_id = row["event_id"] if offer is None else offer.event_id
        event = EventDetails(event_id, row["event_name"], row["starts_at"], ticket_types)
    return DueNotice(notice, row["attempts"], customer, event, offer)


class PostgresNoticeQueue:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def claim_due(self) -> AsyncIterator[ClaimedNotice | None]:
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(_CLAIM)
            if row is None:
                yield None
                return
            ticket_types: dict[UUID, str] = {}
            event_id = row["event_id"] or row["offer_event_id"]
            if event_id is not None:
                ticket_types = {
                    r["ticket_type_id"]: r["name"]
                    for r in await connection.fetch(
                        "SELECT ticket_type_id, name FROM notifications.ticket_types "
                        "WHERE event_id = $1",
                        event_id,
                    )
                }
            yield _ClaimedRow(connection, _due(row, ticket_types))


@dataclass(frozen=True)
class StoredNotice:
    fact_id: UUID
    kind: str
    booking_id: UUID | None
    offer_id: UUID | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime


@dataclass(frozen=True)
class QueueFigures:
    pending: int
    oldest_pending_seconds: float
    failed: int


class PostgresNoticeAdmin:
    """What operators see and do: failed notices, and sending one again."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def failed(self, limit: int) -> list[StoredNotice]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT fact_id, kind, booking_id, offer_id, status, attempts, last_error, "
                "created_at, next_attempt_at FROM notifications.outbox WHERE status = 'failed' "
                "ORDER BY created_at LIMIT $1",
                limit,
            )
        return [StoredNotice(**dict(row)) for row in rows]

    async def retry(self, fact_id: UUID) -> StoredNotice | None:
        """A failed notice pending again now, its attempts from zero; None when no failed
        notice has that id (a sent one is never sent again from here)."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(
                "UPDATE notifications.outbox SET status = 'pending', attempts = 0, "
                "next_attempt_at = now() WHERE fact_id = $1 AND status = 'failed' "
                "RETURNING fact_id, kind, booking_id, offer_id, status, attempts, last_error, "
                "created_at, next_attempt_at",
                fact_id,
            )
        return None if row is None else StoredNotice(**dict(row))

    async def figures(self) -> QueueFigures:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, "
                "COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) "
                "FILTER (WHERE status = 'pending')), 0) AS oldest, "
                "count(*) FILTER (WHERE status = 'failed') AS failed "
                "FROM notifications.outbox WHERE status IN ('pending', 'failed')"
            )
        assert row is not None
        return QueueFigures(row["pending"], float(row["oldest"]), row["failed"])
