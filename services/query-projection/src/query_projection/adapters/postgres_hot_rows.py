"""What the Redis read models hold, read from PostgreSQL's: to answer while Redis is away and
to fill Redis again when it comes back empty or missed writes."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from query_projection.adapters.postgres_schema import in_schema
from query_projection.adapters.postgres_store import booking_from, stock_from
from query_projection.domain.read_models import Booking, Stock

_STOCK = (
    "SELECT event_id, ticket_type_id, quantity, reserved, sold, available, stock_version, "
    "provisional FROM {s}.stock"
)
_BOOKINGS_AFTER = "SELECT * FROM {s}.bookings WHERE booking_id > $1 ORDER BY booking_id LIMIT $2"
_POPULAR = (
    "SELECT event_id, tickets_sold FROM {s}.event_sales "
    "ORDER BY tickets_sold DESC, event_id LIMIT $1"
)
_NO_BOOKING = UUID(int=0)


class PostgresHotRows:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def stock(self, generation: int, event_id: UUID | None = None) -> list[Stock]:
        """Every ticket type's stock, or one event's."""
        if event_id is None:
            rows = await self._pool.fetch(in_schema(_STOCK, generation))
        else:
            sql = in_schema(_STOCK + " WHERE event_id = $1", generation)
            rows = await self._pool.fetch(sql, event_id)
        return [stock_from(row) for row in rows]

    async def bookings_after(
        self, generation: int, after: UUID | None, limit: int
    ) -> list[Booking]:
        """A page of bookings in id order, from the one after `after`."""
        rows = await self._pool.fetch(
            in_schema(_BOOKINGS_AFTER, generation), after or _NO_BOOKING, limit
        )
        return [booking_from(row) for row in rows]

    async def popular_events(self, generation: int, limit: int) -> list[tuple[UUID, int]]:
        rows = await self._pool.fetch(in_schema(_POPULAR, generation), limit)
        return [(row["event_id"], row["tickets_sold"]) for row in rows]
