"""The read models' write side in PostgreSQL: load rows, save changed rows, offsets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from query_projection.adapters.postgres_progress import NOTIFY_PROGRESS
from query_projection.adapters.postgres_schema import (
    create_generation,
    drop_generations,
    in_schema,
)
from query_projection.application.ports import ReadModelSwitched
from query_projection.domain.positions import PartitionProgress, TopicPartition
from query_projection.domain.projection import ProjectionBatch, RowKeys
from query_projection.domain.read_models import (
    Booking,
    Show,
    Stock,
    TicketTypeRow,
    Venue,
    show_revision,
)
from ticketing_contracts.events import BookingStatus

_VENUE_COLUMNS = ("venue_id", "name", "capacity", "address", "deleted", "version", "updated_at")
_EVENT_COLUMNS = (
    "event_id",
    "venue_id",
    "name",
    "description",
    "starts_at",
    "status",
    "version",
    "created_at",
    "updated_at",
    "sale_starts_at",
    "sale_ends_at",
    "max_tickets_per_account",
    "hold_minutes",
    "waitlist_offer_minutes",
)
_TICKET_TYPE_COLUMNS = (
    "event_id",
    "ticket_type_id",
    "name",
    "price",
    "currency",
    "quantity",
    "sort_order",
    "sale_starts_at",
    "sale_ends_at",
    "max_tickets_per_account",
    "sales_closed",
    "removed",
)
_STOCK_COLUMNS = (
    "event_id",
    "ticket_type_id",
    "quantity",
    "reserved",
    "sold",
    "available",
    "stock_version",
    "provisional",
)
_BOOKING_COLUMNS = (
    "booking_id",
    "event_id",
    "ticket_type_id",
    "quantity",
    "status",
    "version",
    "owner_id",
    "customer_name",
    "customer_email",
    "unit_price",
    "total_price",
    "currency",
    "hold_expires_at",
    "reason",
    "created_at",
    "updated_at",
    "payment_status",
    "payment_reference",
)


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    # Built once at import from the constant column names above, never from input.
    return (
        f"INSERT INTO {{s}}.{table} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


_UPSERT_VENUE = _upsert("venues", _VENUE_COLUMNS, ("venue_id",))
_UPSERT_EVENT = _upsert("events", _EVENT_COLUMNS, ("event_id",))
_UPSERT_STOCK = _upsert("stock", _STOCK_COLUMNS, ("event_id", "ticket_type_id"))
_UPSERT_BOOKING = _upsert("bookings", _BOOKING_COLUMNS, ("booking_id",))
_INSERT_TICKET_TYPE = _upsert("ticket_types", _TICKET_TYPE_COLUMNS, ("event_id", "ticket_type_id"))

K = TypeVar("K")
V = TypeVar("V")


def venue_from(record: asyncpg.Record) -> Venue:
    return Venue(**{column: record[column] for column in _VENUE_COLUMNS})


def ticket_type_from(record: asyncpg.Record) -> TicketTypeRow:
    return TicketTypeRow(
        **{column: record[column] for column in _TICKET_TYPE_COLUMNS if column != "event_id"}
    )


def stock_from(record: asyncpg.Record) -> Stock:
    return Stock(**{column: record[column] for column in _STOCK_COLUMNS})


def booking_from(record: asyncpg.Record) -> Booking:
    values: dict[str, Any] = {column: record[column] for column in _BOOKING_COLUMNS}
    values["status"] = BookingStatus(values["status"])
    return Booking(**values)


def progress_from(record: asyncpg.Record) -> PartitionProgress:
    return PartitionProgress(
        topic=record["topic"],
        partition=record["partition"],
        next_offset=record["next_offset"],
        last_position=record["last_position"],
        last_occurred_at=record["last_occurred_at"],
    )


class PostgresTransaction:
    def __init__(self, connection: asyncpg.Connection, generation: int) -> None:
        self.generation = generation
        self._connection = connection
        self._loaded = ProjectionBatch()

    def _sql(self, statement: str) -> str:
        return in_schema(statement, self.generation)

    async def lock_progress(
        self, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, PartitionProgress]:
        ordered = sorted(partitions)
        topics = [topic for topic, _ in ordered]
        numbers = [partition for _, partition in ordered]
        await self._connection.execute(
            self._sql(
                "INSERT INTO {s}.projection_offsets (topic, partition, next_offset) "
                "SELECT * , 0 FROM unnest($1::text[], $2::int[]) ON CONFLICT DO NOTHING"
            ),
            topics,
            numbers,
        )
        rows = await self._connection.fetch(
            self._sql(
                "SELECT o.* FROM {s}.projection_offsets o "
                "JOIN unnest($1::text[], $2::int[]) AS p(topic, partition) "
                "USING (topic, partition) ORDER BY topic, partition FOR UPDATE OF o"
            ),
            topics,
            numbers,
        )
        return {(r["topic"], r["partition"]): progress_from(r) for r in rows}

    async def load(self, keys: RowKeys) -> ProjectionBatch:
        connection = self._connection
        batch = ProjectionBatch()
        if keys.venue_ids:
            batch.venues = dict.fromkeys(keys.venue_ids)
            for record in await connection.fetch(
                self._sql("SELECT * FROM {s}.venues WHERE venue_id = ANY($1) FOR UPDATE"),
                list(keys.venue_ids),
            ):
                batch.venues[record["venue_id"]] = venue_from(record)
        if keys.event_ids:
            batch.shows = dict(await self._shows(list(keys.event_ids)))
        if keys.booking_ids:
            batch.bookings = dict.fromkeys(keys.booking_ids)
            for record in await connection.fetch(
                self._sql("SELECT * FROM {s}.bookings WHERE booking_id = ANY($1) FOR UPDATE"),
                list(keys.booking_ids),
            ):
                batch.bookings[record["booking_id"]] = booking_from(record)
        if keys.stock_keys:
            batch.stock = dict.fromkeys(keys.stock_keys)
            for record in await connection.fetch(
                self._sql(
                    "SELECT s.* FROM {s}.stock s JOIN unnest($1::uuid[], $2::uuid[]) "
                    "AS k(event_id, ticket_type_id) USING (event_id, ticket_type_id) "
                    "FOR UPDATE OF s"
                ),
                [event_id for event_id, _ in keys.stock_keys],
                [ticket_type_id for _, ticket_type_id in keys.stock_keys],
            ):
                batch.stock[(record["event_id"], record["ticket_type_id"])] = stock_from(record)
        self._loaded = ProjectionBatch(
            venues=dict(batch.venues),
            shows=dict(batch.shows),
            bookings=dict(batch.bookings),
            stock=dict(batch.stock),
        )
        return batch

    async def _shows(self, event_ids: list[UUID]) -> dict[UUID, Show | None]:
        events = await self._connection.fetch(
            self._sql("SELECT * FROM {s}.events WHERE event_id = ANY($1) FOR UPDATE"),
            event_ids,
        )
        ticket_types: dict[UUID, list[TicketTypeRow]] = {}
        for record in await self._connection.fetch(
            self._sql(
                "SELECT * FROM {s}.ticket_types WHERE event_id = ANY($1) "
                "ORDER BY event_id, sort_order"
            ),
            event_ids,
        ):
            ticket_types.setdefault(record["event_id"], []).append(ticket_type_from(record))
        shows: dict[UUID, Show | None] = dict.fromkeys(event_ids)
        for record in events:
            values = {c: record[c] for c in _EVENT_COLUMNS}
            shows[record["event_id"]] = Show(
                **values, ticket_types=tuple(ticket_types.get(record["event_id"], ()))
            )
        return shows

    async def save(self, batch: ProjectionBatch) -> None:
        connection = self._connection
        loaded = self._loaded
        venues = _changed(batch.venues, loaded.venues, batch.touched_venues)
        if venues:
            await connection.executemany(
                self._sql(_UPSERT_VENUE),
                [tuple(getattr(v, c) for c in _VENUE_COLUMNS) for v in venues],
            )
        shows = _changed(batch.shows, loaded.shows, batch.touched_shows)
        if shows:
            await connection.executemany(
                self._sql(_UPSERT_EVENT),
                [tuple(getattr(s, c) for c in _EVENT_COLUMNS) for s in shows],
            )
            await connection.executemany(
                self._sql(_INSERT_TICKET_TYPE),
                [
                    (show.event_id, *(getattr(t, c) for c in _TICKET_TYPE_COLUMNS[1:]))
                    for show in shows
                    for t in show.ticket_types
                ],
            )
        bookings = _changed(batch.bookings, loaded.bookings, batch.touched_bookings)
        if bookings:
            await connection.executemany(
                self._sql(_UPSERT_BOOKING),
                [
                    tuple(
                        b.status.value if c == "status" else getattr(b, c) for c in _BOOKING_COLUMNS
                    )
                    for b in bookings
                ],
            )
        stock = _changed(batch.stock, loaded.stock, batch.touched_stock)
        if stock:
            await connection.executemany(
                self._sql(_UPSERT_STOCK),
                [tuple(getattr(s, c) for c in _STOCK_COLUMNS) for s in stock],
            )
            await connection.execute(
                self._sql(
                    "INSERT INTO {s}.event_sales (event_id, tickets_sold) "
                    "SELECT event_id, sum(sold) FROM {s}.stock WHERE event_id = ANY($1) "
                    "GROUP BY event_id ON CONFLICT (event_id) "
                    "DO UPDATE SET tickets_sold = EXCLUDED.tickets_sold"
                ),
                list({s.event_id for s in stock}),
            )

    async def show_revisions(
        self, event_ids: Collection[UUID], venue_ids: Collection[UUID]
    ) -> dict[UUID, str]:
        if not event_ids and not venue_ids:
            return {}
        rows = await self._connection.fetch(
            self._sql(
                "SELECT e.event_id, e.version, v.version AS venue_version FROM {s}.events e "
                "LEFT JOIN {s}.venues v ON v.venue_id = e.venue_id "
                "WHERE e.event_id = ANY($1) OR e.venue_id = ANY($2)"
            ),
            list(event_ids),
            list(venue_ids),
        )
        return {r["event_id"]: show_revision(r["version"], r["venue_version"]) for r in rows}

    async def record_progress(self, progress: Iterable[PartitionProgress]) -> None:
        await self._connection.executemany(
            self._sql(
                "UPDATE {s}.projection_offsets SET next_offset = $3, last_position = $4, "
                "last_occurred_at = $5 WHERE topic = $1 AND partition = $2"
            ),
            [
                (p.topic, p.partition, p.next_offset, p.last_position, p.last_occurred_at)
                for p in progress
            ],
        )
        # Delivered on commit: every replica's waiters look again (postgres_progress).
        await self._connection.execute(NOTIFY_PROGRESS)


def _changed(current: dict[K, V | None], loaded: dict[K, V | None], touched: set[K]) -> list[V]:
    changed: list[V] = []
    for key in touched:
        row = current.get(key)
        if row is not None and row != loaded.get(key):
            changed.append(row)
    return changed


class PostgresReadModelStore:
    """Serves the active generation; the pointer is re-read at most every `pointer_ttl`."""

    def __init__(self, pool: asyncpg.Pool, pointer_ttl_seconds: float = 0.5) -> None:
        self.pool = pool
        self._pointer_ttl = pointer_ttl_seconds
        self._active: int | None = None
        self._read_at = 0.0

    async def active_generation(self) -> int:
        now = time.monotonic()
        if self._active is None or now - self._read_at > self._pointer_ttl:
            self._active = int(
                await self.pool.fetchval("SELECT generation FROM projection.read_model_pointer")
            )
            self._read_at = now
        return self._active

    def forget_active_generation(self) -> None:
        self._active = None

    @asynccontextmanager
    async def transaction(
        self, generation: int, *, must_be_active: bool
    ) -> AsyncIterator[PostgresTransaction]:
        async with self.pool.acquire() as connection, connection.transaction():
            if must_be_active:
                active = await connection.fetchval(
                    "SELECT generation FROM projection.read_model_pointer FOR SHARE"
                )
                if active != generation:
                    self.forget_active_generation()
                    raise ReadModelSwitched(int(active))
            yield PostgresTransaction(connection, generation)

    async def progress(
        self, topics: Collection[str], generation: int | None = None
    ) -> list[PartitionProgress]:
        generation = generation or await self.active_generation()
        rows = await self.pool.fetch(
            in_schema(
                "SELECT * FROM {s}.projection_offsets WHERE topic = ANY($1) "
                "ORDER BY topic, partition",
                generation,
            ),
            list(topics),
        )
        return [progress_from(row) for row in rows]


class _PointerSwitch:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def switch(self, generation: int) -> None:
        await self._connection.execute(
            "UPDATE projection.read_model_pointer SET generation = $1, switched_at = now()",
            generation,
        )


class PostgresGenerations:
    """Creates, switches and drops read-model generations (for the rebuild)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def active_generation(self) -> int:
        return int(await self.pool.fetchval("SELECT generation FROM projection.read_model_pointer"))

    async def create_generation(self) -> int:
        return await create_generation(self.pool)

    @asynccontextmanager
    async def switch_lock(self) -> AsyncIterator[_PointerSwitch]:
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "SELECT generation FROM projection.read_model_pointer FOR UPDATE"
            )
            yield _PointerSwitch(connection)

    async def drop_generations(self, keep: set[int]) -> list[int]:
        return await drop_generations(self.pool, keep)
