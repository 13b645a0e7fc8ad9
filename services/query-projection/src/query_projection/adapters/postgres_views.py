"""The read models' query side in PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg

from query_projection.adapters.postgres_schema import in_schema
from query_projection.adapters.postgres_store import booking_from
from query_projection.application.views import (
    BookingFilters,
    BookingView,
    CatalogTicketType,
    EventCatalog,
    EventFilters,
    EventSummaryView,
    Page,
    VenueSummary,
    VenueView,
)
from query_projection.domain.read_models import show_revision
from ticketing_contracts.events import BookingStatus

_WORD = re.compile(r"\w+", re.UNICODE)
_EVENT_ORDER = {
    "starts_at": "e.starts_at, e.event_id",
    "-starts_at": "e.starts_at DESC, e.event_id",
    "name": "lower(e.name), e.event_id",
    "-name": "lower(e.name) DESC, e.event_id",
    "popularity": "coalesce(s.tickets_sold, 0) DESC, e.starts_at, e.event_id",
}


def prefix_query(text: str) -> str | None:
    """'flash sal' -> 'flash:* & sal:*' (words only, so it is a valid tsquery)."""
    words = _WORD.findall(text.lower())
    return " & ".join(f"{word}:*" for word in words) if words else None


class _Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def add(self, clause: str, value: Any) -> None:
        self.args.append(value)
        self.clauses.append(clause.replace("?", f"${len(self.args)}"))

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "true"


def _fingerprint(generation: int, applied: int) -> str:
    return f"{generation}.{applied}"


class PostgresViews:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield connection

    @staticmethod
    async def _applied(connection: asyncpg.Connection, generation: int) -> str:
        total = await connection.fetchval(
            in_schema(
                "SELECT coalesce(sum(next_offset), 0) FROM {s}.projection_offsets", generation
            )
        )
        return _fingerprint(generation, int(total))

    async def venues_page(
        self, generation: int, page: int, size: int
    ) -> tuple[Page[VenueView], str]:
        async with self._snapshot() as connection:
            rows = await connection.fetch(
                in_schema(
                    "SELECT *, count(*) OVER () AS total FROM {s}.venues WHERE NOT deleted "
                    "ORDER BY lower(name), venue_id LIMIT $1 OFFSET $2",
                    generation,
                ),
                size,
                (page - 1) * size,
            )
            total = (
                rows[0]["total"]
                if rows
                else await self._count(
                    connection,
                    in_schema("SELECT count(*) FROM {s}.venues WHERE NOT deleted", generation),
                )
            )
            fingerprint = await self._applied(connection, generation)
        items = [VenueView.model_validate(dict(row)) for row in rows]
        return Page[VenueView](items=items, page=page, size=size, total=total), fingerprint

    @staticmethod
    async def _count(connection: asyncpg.Connection, sql: str, *args: Any) -> int:
        return int(await connection.fetchval(sql, *args))

    async def venue(self, generation: int, venue_id: UUID) -> VenueView | None:
        row = await self.pool.fetchrow(
            in_schema("SELECT * FROM {s}.venues WHERE venue_id = $1 AND NOT deleted", generation),
            venue_id,
        )
        return VenueView.model_validate(dict(row)) if row else None

    async def events_page(
        self, generation: int, filters: EventFilters, page: int, size: int
    ) -> tuple[Page[EventSummaryView], str]:
        where = _Where()
        if filters.q and (query := prefix_query(filters.q)):
            where.add("e.search @@ to_tsquery('simple', ?)", query)
        if filters.venue_id:
            where.add("e.venue_id = ?", filters.venue_id)
        if filters.starts_after:
            where.add("e.starts_at >= ?", filters.starts_after)
        if filters.starts_before:
            where.add("e.starts_at < ?", filters.starts_before)
        if filters.status:
            where.add("e.status = ?", filters.status)
        base = (
            "FROM {s}.events e LEFT JOIN {s}.venues v ON v.venue_id = e.venue_id "
            "LEFT JOIN {s}.event_sales s ON s.event_id = e.event_id WHERE " + where.sql()
        )
        limit = len(where.args) + 1
        select = (
            "SELECT e.event_id, e.venue_id, v.name AS venue_name, e.name, e.starts_at, "
            "e.status, e.version, coalesce(s.tickets_sold, 0) AS tickets_sold, "
            "e.sale_starts_at, e.sale_ends_at, e.max_tickets_per_account, "
            "e.hold_minutes, e.waitlist_offer_minutes "
            + base
            + f" ORDER BY {_EVENT_ORDER[filters.sort]} LIMIT ${limit} OFFSET ${limit + 1}"
        )
        async with self._snapshot() as connection:
            rows = await connection.fetch(
                in_schema(select, generation), *where.args, size, (page - 1) * size
            )
            total = await self._count(
                connection, in_schema("SELECT count(*) " + base, generation), *where.args
            )
            fingerprint = await self._applied(connection, generation)
        items = [EventSummaryView.model_validate(dict(row)) for row in rows]
        return Page[EventSummaryView](items=items, page=page, size=size, total=total), fingerprint

    async def event_catalog(self, generation: int, event_id: UUID) -> EventCatalog | None:
        async with self._snapshot() as connection:
            row = await connection.fetchrow(
                in_schema(
                    "SELECT e.*, v.version AS venue_version, v.name AS venue_name, "
                    "v.address AS venue_address, v.deleted AS venue_deleted "
                    "FROM {s}.events e LEFT JOIN {s}.venues v ON v.venue_id = e.venue_id "
                    "WHERE e.event_id = $1",
                    generation,
                ),
                event_id,
            )
            if row is None:
                return None
            ticket_types = await connection.fetch(
                in_schema(
                    "SELECT * FROM {s}.ticket_types WHERE event_id = $1 ORDER BY sort_order",
                    generation,
                ),
                event_id,
            )
        venue = (
            VenueSummary(
                venue_id=row["venue_id"],
                name=row["venue_name"],
                address=row["venue_address"],
                deleted=row["venue_deleted"],
            )
            if row["venue_name"] is not None
            else None
        )
        return EventCatalog(
            event_id=row["event_id"],
            venue_id=row["venue_id"],
            name=row["name"],
            description=row["description"],
            starts_at=row["starts_at"],
            status=row["status"],
            version=row["version"],
            venue_version=row["venue_version"],
            venue=venue,
            ticket_types=[
                CatalogTicketType.model_validate(dict(t)) for t in ticket_types if not t["removed"]
            ],
            removed_ticket_type_ids=[t["ticket_type_id"] for t in ticket_types if t["removed"]],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            sale_starts_at=row["sale_starts_at"],
            sale_ends_at=row["sale_ends_at"],
            max_tickets_per_account=row["max_tickets_per_account"],
            hold_minutes=row["hold_minutes"],
            waitlist_offer_minutes=row["waitlist_offer_minutes"],
        )

    @staticmethod
    def revision_of(catalog: EventCatalog) -> str:
        return show_revision(catalog.version, catalog.venue_version)

    async def event_summaries(
        self, generation: int, event_ids: Collection[UUID]
    ) -> dict[UUID, EventSummaryView]:
        rows = await self.pool.fetch(
            in_schema(
                "SELECT e.event_id, e.venue_id, v.name AS venue_name, e.name, e.starts_at, "
                "e.status, e.version, coalesce(s.tickets_sold, 0) AS tickets_sold, "
                "e.sale_starts_at, e.sale_ends_at, e.max_tickets_per_account, "
                "e.hold_minutes, e.waitlist_offer_minutes "
                "FROM {s}.events e LEFT JOIN {s}.venues v ON v.venue_id = e.venue_id "
                "LEFT JOIN {s}.event_sales s ON s.event_id = e.event_id "
                "WHERE e.event_id = ANY($1)",
                generation,
            ),
            list(event_ids),
        )
        return {row["event_id"]: EventSummaryView.model_validate(dict(row)) for row in rows}

    async def booking(self, generation: int, booking_id: UUID) -> BookingView | None:
        row = await self.pool.fetchrow(
            in_schema("SELECT * FROM {s}.bookings WHERE booking_id = $1", generation), booking_id
        )
        return _booking_view(row) if row else None

    async def bookings_page(
        self, generation: int, filters: BookingFilters, page: int, size: int
    ) -> tuple[Page[BookingView], str]:
        where = _Where()
        if filters.owner_id is not None:
            where.add("owner_id = ?", filters.owner_id)
        if filters.customer_email is not None:
            where.add("customer_email = ?", filters.customer_email.lower())
        if filters.event_id is not None:
            where.add("event_id = ?", filters.event_id)
        if filters.status is not None:
            where.add("status = ?", filters.status.value)
        base = "FROM {s}.bookings WHERE " + where.sql()
        limit = len(where.args) + 1
        async with self._snapshot() as connection:
            rows = await connection.fetch(
                in_schema(
                    "SELECT * "
                    + base
                    + f" ORDER BY created_at DESC, booking_id LIMIT ${limit} OFFSET ${limit + 1}",
                    generation,
                ),
                *where.args,
                size,
                (page - 1) * size,
            )
            total = await self._count(
                connection, in_schema("SELECT count(*) " + base, generation), *where.args
            )
            fingerprint = await self._applied(connection, generation)
        items = [_booking_view(row) for row in rows]
        return Page[BookingView](items=items, page=page, size=size, total=total), fingerprint

    async def booking_counts(
        self, generation: int, event_id: UUID
    ) -> tuple[dict[BookingStatus, int], str]:
        async with self._snapshot() as connection:
            rows = await connection.fetch(
                in_schema(
                    "SELECT status, count(*) AS n FROM {s}.bookings WHERE event_id = $1 "
                    "GROUP BY status",
                    generation,
                ),
                event_id,
            )
            fingerprint = await self._applied(connection, generation)
        return {BookingStatus(row["status"]): int(row["n"]) for row in rows}, fingerprint


def _booking_view(row: asyncpg.Record) -> BookingView:
    booking = booking_from(row)
    return BookingView.model_validate(booking, from_attributes=True)
