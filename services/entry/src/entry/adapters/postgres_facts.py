"""The facts' effects on PostgreSQL: catalog names, tickets issued and voided, and each
partition's next offset, in one transaction per batch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from uuid import UUID

import asyncpg
from aiokafka import TopicPartition

from entry.application.ports import CatalogTicketType
from entry.domain.tickets import NewTicket
from ticketing_contracts.tickets import VoidReason


class PostgresFactsTransaction:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def stored_position(self, topic: str, partition: int) -> int | None:
        next_offset: int | None = await self._connection.fetchval(
            "SELECT next_offset FROM consumer_offsets WHERE topic = $1 AND partition = $2 "
            "FOR UPDATE",
            topic,
            partition,
        )
        return next_offset

    async def record_position(self, topic: str, partition: int, next_offset: int) -> None:
        await self._connection.execute(
            "INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ($1, $2, $3) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
            topic,
            partition,
            next_offset,
        )

    async def event_created(
        self,
        event_id: UUID,
        name: str,
        starts_at: datetime,
        ticket_types: Sequence[CatalogTicketType],
    ) -> None:
        await self._connection.execute(
            "INSERT INTO events (event_id, name, starts_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (event_id) DO UPDATE SET name = EXCLUDED.name, "
            "starts_at = EXCLUDED.starts_at",
            event_id,
            name,
            starts_at,
        )
        for ticket_type in ticket_types:
            await self.ticket_type_added(event_id, ticket_type)

    async def ticket_type_added(self, event_id: UUID, ticket_type: CatalogTicketType) -> None:
        await self._connection.execute(
            "INSERT INTO ticket_types (ticket_type_id, event_id, name) VALUES ($1, $2, $3) "
            "ON CONFLICT (ticket_type_id) DO UPDATE SET name = EXCLUDED.name",
            ticket_type.ticket_type_id,
            event_id,
            ticket_type.name,
        )

    async def event_renamed(self, event_id: UUID, name: str) -> None:
        await self._connection.execute(
            "UPDATE events SET name = $2 WHERE event_id = $1", event_id, name
        )

    async def event_rescheduled(self, event_id: UUID, starts_at: datetime) -> None:
        await self._connection.execute(
            "UPDATE events SET starts_at = $2 WHERE event_id = $1", event_id, starts_at
        )

    async def event_cancelled(self, event_id: UUID) -> int:
        await self._connection.execute(
            "UPDATE events SET cancelled = true WHERE event_id = $1", event_id
        )
        return await self._void("event_id", event_id, "event_cancelled")

    async def is_event_cancelled(self, event_id: UUID) -> bool:
        cancelled = await self._connection.fetchval(
            "SELECT cancelled FROM events WHERE event_id = $1", event_id
        )
        return bool(cancelled)

    async def issue(self, owner_id: str, tickets: Sequence[NewTicket], issued_at: datetime) -> int:
        if not tickets:
            return 0
        first = tickets[0]
        await self._connection.execute(
            "INSERT INTO bookings (booking_id, event_id, ticket_type_id, owner_id, confirmed_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (booking_id) DO NOTHING",
            first.booking_id,
            first.event_id,
            first.ticket_type_id,
            owner_id,
            issued_at,
        )
        inserted = await self._connection.fetch(
            "INSERT INTO tickets (ticket_id, booking_id, position_in_booking, event_id, "
            "ticket_type_id, holder_name, code, status, voided_reason, issued_at) "
            "SELECT t.*, $10::timestamptz FROM unnest($1::uuid[], $2::uuid[], $3::int[], "
            "$4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[]) AS t "
            "ON CONFLICT (booking_id, position_in_booking) DO NOTHING RETURNING ticket_id",
            [t.ticket_id for t in tickets],
            [t.booking_id for t in tickets],
            [t.position_in_booking for t in tickets],
            [t.event_id for t in tickets],
            [t.ticket_type_id for t in tickets],
            [t.holder_name for t in tickets],
            [t.code for t in tickets],
            [t.status for t in tickets],
            [t.voided_reason for t in tickets],
            issued_at,
        )
        return len(inserted)

    async def void_booking(self, booking_id: UUID, reason: VoidReason) -> int:
        return await self._void("booking_id", booking_id, reason)

    async def _void(self, column: str, value: UUID, reason: VoidReason) -> int:
        # Checked-in tickets stay as they are: their holders are already inside.
        voided = await self._connection.fetch(
            f"UPDATE tickets SET status = 'voided', voided_reason = $2 "  # noqa: S608  # column is ours
            f"WHERE {column} = $1 AND status = 'valid' RETURNING ticket_id",
            value,
            reason,
        )
        return len(voided)


class PostgresFacts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresFactsTransaction]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresFactsTransaction(connection)

    async def next_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Per partition, the offset to continue from (missing: nothing consumed yet)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT c.topic, c.partition, c.next_offset FROM consumer_offsets c "
                "JOIN unnest($1::text[], $2::int[]) AS p (topic, partition) "
                "USING (topic, partition)",
                [tp.topic for tp in partitions],
                [tp.partition for tp in partitions],
            )
        return {TopicPartition(row["topic"], row["partition"]): row["next_offset"] for row in rows}
