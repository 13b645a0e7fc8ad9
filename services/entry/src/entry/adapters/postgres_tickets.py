"""Tickets, the door and door staff on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from entry.application.ports import BookingInfo, DoorLookup, EventInfo, StoredTicket
from entry.domain.scans import TicketAtDoor
from ticketing_contracts.tickets import ScanAnswer, ScannerTicket, TicketTypeProgress

# Until its catalog fact arrives a ticket type has no name here.
_UNNAMED = "'Ticket type ' || left(t.ticket_type_id::text, 8)"

_TICKET_COLUMNS = (
    "t.ticket_id, t.booking_id, t.event_id, t.ticket_type_id, tt.name AS ticket_type_name, "
    "t.holder_name, t.code, t.status, t.issued_at, t.checked_in_at, t.entrance, t.voided_reason"
)
_DOOR_COLUMNS = (
    f"t.ticket_id, t.event_id, t.holder_name, coalesce(tt.name, {_UNNAMED}) AS ticket_type_name, "
    "t.status, t.checked_in_at, t.entrance, t.voided_reason"
)
_WITH_TYPE = "tickets t LEFT JOIN ticket_types tt USING (ticket_type_id)"
# Built from the constants above only (no input): the placeholders carry every value.
_DOOR_BY_CODE = f"SELECT {_DOOR_COLUMNS} FROM {_WITH_TYPE} WHERE t.code = $1"  # noqa: S608
_DOOR_BY_RETIRED_CODE = (
    f"SELECT {_DOOR_COLUMNS} FROM retired_codes r JOIN {_WITH_TYPE} USING (ticket_id) "  # noqa: S608
    "WHERE r.code = $1"
)
_DOOR_BY_ID = f"SELECT {_DOOR_COLUMNS} FROM {_WITH_TYPE} WHERE t.ticket_id = $1"  # noqa: S608
_TICKETS_OF_BOOKING = (
    f"SELECT {_TICKET_COLUMNS} FROM {_WITH_TYPE} WHERE t.booking_id = $1 "  # noqa: S608
    "ORDER BY t.position_in_booking"
)
_TICKET_BY_ID = f"SELECT {_TICKET_COLUMNS} FROM {_WITH_TYPE} WHERE t.ticket_id = $1"  # noqa: S608
_SCANNER_TICKETS = (
    f"SELECT t.code, coalesce(tt.name, {_UNNAMED}) AS ticket_type_name, t.holder_name, "  # noqa: S608
    f"t.status, t.checked_in_at FROM {_WITH_TYPE} WHERE t.event_id = $1 "
    "UNION ALL "
    f"SELECT r.code, coalesce(tt.name, {_UNNAMED}), t.holder_name, 'voided', NULL "
    f"FROM retired_codes r JOIN {_WITH_TYPE} USING (ticket_id) WHERE r.event_id = $1 "
    "ORDER BY code"
)


def _stored(row: asyncpg.Record) -> StoredTicket:
    return StoredTicket(**dict(row))


def _at_door(row: asyncpg.Record, *, retired: bool = False) -> TicketAtDoor:
    return TicketAtDoor(**dict(row), retired=retired)


class PostgresDoor:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def find_code(self, code: str) -> DoorLookup | None:
        row = await self._connection.fetchrow(_DOOR_BY_CODE, code)
        if row is not None:
            return DoorLookup(row["event_id"], _at_door(row))
        row = await self._connection.fetchrow(_DOOR_BY_RETIRED_CODE, code)
        if row is None:
            return None
        return DoorLookup(row["event_id"], _at_door(row, retired=True))

    async def check_in(self, ticket_id: UUID, at: datetime, entrance: str) -> bool:
        checked_in = await self._connection.fetchval(
            "UPDATE tickets SET status = 'checked_in', checked_in_at = $2, entrance = $3 "
            "WHERE ticket_id = $1 AND status = 'valid' AND checked_in_at IS NULL "
            "RETURNING ticket_id",
            ticket_id,
            at,
            entrance,
        )
        return checked_in is not None

    async def ticket_at_door(self, ticket_id: UUID) -> TicketAtDoor:
        row = await self._connection.fetchrow(_DOOR_BY_ID, ticket_id)
        if row is None:
            raise LookupError(f"ticket {ticket_id} vanished")
        return _at_door(row)

    async def claim_scan(self, scan_id: UUID, event_id: UUID) -> tuple[ScanAnswer, bool] | None:
        # The placeholder row holds the scan id: a second sync of the same scan waits here
        # until this transaction ends, then reads its answer.
        claimed = await self._connection.fetchval(
            "INSERT INTO synced_scans (scan_id, event_id, answer, conflict) "
            "VALUES ($1, $2, 'null', false) ON CONFLICT (scan_id) DO NOTHING RETURNING scan_id",
            scan_id,
            event_id,
        )
        if claimed is not None:
            return None
        row = await self._connection.fetchrow(
            "SELECT answer, conflict FROM synced_scans WHERE scan_id = $1", scan_id
        )
        assert row is not None  # rows are never deleted
        return ScanAnswer.model_validate_json(row["answer"]), bool(row["conflict"])

    async def record_scan(self, scan_id: UUID, answer: ScanAnswer, conflict: bool) -> None:
        await self._connection.execute(
            "UPDATE synced_scans SET answer = $2::jsonb, conflict = $3 WHERE scan_id = $1",
            scan_id,
            answer.model_dump_json(),
            conflict,
        )


class PostgresTickets:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self._pool.acquire() as connection:
            row: asyncpg.Record | None = await connection.fetchrow(query, *args)
            return row

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._pool.acquire() as connection:
            rows: list[asyncpg.Record] = await connection.fetch(query, *args)
            return rows

    async def event(self, event_id: UUID) -> EventInfo | None:
        row = await self._fetchrow(
            "SELECT event_id, name, starts_at, cancelled FROM events WHERE event_id = $1",
            event_id,
        )
        return None if row is None else EventInfo(**dict(row))

    async def booking(self, booking_id: UUID) -> BookingInfo | None:
        row = await self._fetchrow(
            "SELECT booking_id, event_id, owner_id FROM bookings WHERE booking_id = $1",
            booking_id,
        )
        return None if row is None else BookingInfo(**dict(row))

    async def tickets_of_booking(self, booking_id: UUID) -> list[StoredTicket]:
        rows = await self._fetch(_TICKETS_OF_BOOKING, booking_id)
        return [_stored(row) for row in rows]

    async def ticket(self, ticket_id: UUID) -> StoredTicket | None:
        row = await self._fetchrow(_TICKET_BY_ID, ticket_id)
        return None if row is None else _stored(row)

    async def replace_code(self, ticket_id: UUID, code: str, at: datetime) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            old = await connection.fetchrow(
                "SELECT code, event_id FROM tickets WHERE ticket_id = $1 AND status = 'valid' "
                "FOR UPDATE",
                ticket_id,
            )
            if old is None:
                return False
            await connection.execute(
                "INSERT INTO retired_codes (code, ticket_id, event_id, retired_at) "
                "VALUES ($1, $2, $3, $4)",
                old["code"],
                ticket_id,
                old["event_id"],
                at,
            )
            await connection.execute(
                "UPDATE tickets SET code = $2 WHERE ticket_id = $1", ticket_id, code
            )
        return True

    @asynccontextmanager
    async def door(self) -> AsyncIterator[PostgresDoor]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresDoor(connection)

    async def scanner_tickets(self, event_id: UUID) -> list[ScannerTicket]:
        rows = await self._fetch(_SCANNER_TICKETS, event_id)
        return [ScannerTicket(**dict(row)) for row in rows]

    async def progress(self, event_id: UUID) -> list[TicketTypeProgress]:
        rows = await self._fetch(
            "SELECT types.ticket_type_id, coalesce(types.name, "
            "'Ticket type ' || left(types.ticket_type_id::text, 8)) AS name, "
            "count(t.ticket_id) FILTER (WHERE t.status <> 'voided') AS issued, "
            "count(t.ticket_id) FILTER (WHERE t.status = 'checked_in') AS checked_in, "
            "count(t.ticket_id) FILTER (WHERE t.status = 'voided') AS voided "
            "FROM (SELECT ticket_type_id, name FROM ticket_types WHERE event_id = $1 "
            "      UNION SELECT DISTINCT ticket_type_id, NULL FROM tickets t WHERE event_id = $1 "
            "      AND NOT EXISTS (SELECT 1 FROM ticket_types x "
            "                      WHERE x.ticket_type_id = t.ticket_type_id)) AS types "
            "LEFT JOIN tickets t ON t.ticket_type_id = types.ticket_type_id "
            "GROUP BY types.ticket_type_id, types.name ORDER BY name",
            event_id,
        )
        return [TicketTypeProgress(**dict(row)) for row in rows]

    async def is_door_staff(self, event_id: UUID, user_id: str) -> bool:
        row = await self._fetchrow(
            "SELECT 1 FROM door_staff WHERE event_id = $1 AND user_id = $2", event_id, user_id
        )
        return row is not None

    async def assign_door_staff(self, event_id: UUID, user_id: str, assigned_by: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO door_staff (event_id, user_id, assigned_by) VALUES ($1, $2, $3) "
                "ON CONFLICT (event_id, user_id) DO NOTHING",
                event_id,
                user_id,
                assigned_by,
            )

    async def remove_door_staff(self, event_id: UUID, user_id: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                "DELETE FROM door_staff WHERE event_id = $1 AND user_id = $2", event_id, user_id
            )

    async def door_staff(self, event_id: UUID) -> list[str]:
        rows = await self._fetch(
            "SELECT user_id FROM door_staff WHERE event_id = $1 ORDER BY user_id", event_id
        )
        return [row["user_id"] for row in rows]
