"""What the reconciliation after a restore reads from the read models, and the facts it
sets aside (kept outside the generations, so every rebuild honours them)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from query_projection.adapters.postgres_schema import in_schema
from query_projection.domain.set_aside import SetAside
from ticketing_contracts.reconciliation import ReadModelBooking, ReadModelEvent, TicketTypeCount


class PostgresReconciliation:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _generation(self, connection: asyncpg.Connection) -> int:
        return int(
            await connection.fetchval("SELECT generation FROM projection.read_model_pointer")
        )

    async def event_ids(self) -> list[UUID]:
        async with self.pool.acquire() as connection, connection.transaction(readonly=True):
            generation = await self._generation(connection)
            rows = await connection.fetch(
                in_schema("SELECT event_id FROM {s}.events ORDER BY event_id", generation)
            )
        return [row["event_id"] for row in rows]

    async def highest_position(self) -> int | None:
        async with self.pool.acquire() as connection, connection.transaction(readonly=True):
            generation = await self._generation(connection)
            highest = await connection.fetchval(
                in_schema("SELECT max(last_position) FROM {s}.projection_offsets", generation)
            )
        return int(highest) if highest is not None else None

    async def event(self, event_id: UUID) -> ReadModelEvent | None:
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            generation = await self._generation(connection)
            known = await connection.fetchrow(
                in_schema(
                    "SELECT version, updated_at FROM {s}.events WHERE event_id = $1", generation
                ),
                event_id,
            )
            bookings = await connection.fetch(
                in_schema(
                    "SELECT booking_id, ticket_type_id, quantity, status, version, "
                    "payment_status, payment_reference, customer_email, total_price, currency "
                    "FROM {s}.bookings WHERE event_id = $1 ORDER BY booking_id",
                    generation,
                ),
                event_id,
            )
            stock = await connection.fetch(
                in_schema(
                    "SELECT ticket_type_id, quantity, reserved, sold FROM {s}.stock "
                    "WHERE event_id = $1 ORDER BY ticket_type_id",
                    generation,
                ),
                event_id,
            )
        if known is None and not bookings:
            return None
        return ReadModelEvent(
            event_id=event_id,
            version=known["version"] if known is not None else None,
            updated_at=known["updated_at"] if known is not None else None,
            ticket_types=[TicketTypeCount.model_validate(dict(row)) for row in stock],
            bookings=[ReadModelBooking.model_validate(dict(row)) for row in bookings],
        )

    async def set_aside(self) -> list[SetAside]:
        rows = await self.pool.fetch(
            "SELECT subject, held_event_ids, recorded_until FROM projection.set_aside_facts"
        )
        return [
            SetAside(row["subject"], frozenset(row["held_event_ids"]), row["recorded_until"])
            for row in rows
        ]

    async def record_set_aside(self, entries: list[SetAside]) -> None:
        """A later word on an aggregate replaces the earlier one."""
        await self.pool.executemany(
            "INSERT INTO projection.set_aside_facts (subject, held_event_ids, recorded_until) "
            "VALUES ($1, $2, $3) ON CONFLICT (subject) DO UPDATE SET "
            "held_event_ids = EXCLUDED.held_event_ids, "
            "recorded_until = EXCLUDED.recorded_until, set_aside_at = now()",
            [
                (entry.subject, sorted(entry.held_event_ids), entry.recorded_until)
                for entry in entries
            ],
        )
