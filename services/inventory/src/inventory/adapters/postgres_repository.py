"""The inventory unit of work and read queries on asyncpg.

Writes are guarded optimistically: every write to a show bumps `shows.version` with
`WHERE version = <loaded>`, new rows are plain INSERTs, and the processed-message
record is a plain INSERT too. Two replicas deciding the same rows (a rebalance
overlap) therefore cannot both commit: the loser gets `ConcurrencyConflict` and
decides again, this time seeing what the winner wrote. Holds asked for over HTTP and the
unclaimed-hold sweeper also lock their shows first (`lock_shows`), so they wait for each
other instead of deciding again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import asyncpg
from aiokafka import TopicPartition

from inventory.application.errors import ConcurrencyConflict, PositionMoved
from inventory.application.messages import MessagePosition, OutgoingMessage, ProcessedMessage
from inventory.domain.bookings import BookingRecord, BookingState
from inventory.domain.sale import AccountKey, SaleTerms
from inventory.domain.stock import HoldWindows, ShowInventory, ShowStatus, TicketStock
from inventory.domain.waitlist import EntryState, WaitlistEntry
from ticketing_contracts.events import RejectionReason


class PostgresUnitOfWork:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._connection: Any = None
        self._transaction: Any = None

    async def __aenter__(self) -> Self:
        self._connection = await self._pool.acquire()
        try:
            self._transaction = self._connection.transaction()
            await self._transaction.start()
        except BaseException:
            await self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None:
                await self._transaction.rollback()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            pass  # the connection is gone; the server rolls the transaction back itself
        finally:
            await self._release()
        # A deadlock is a lost race too: writers that lock shows in order (holds, the
        # sweeper) against one that updates them in its own order (the Kafka path).
        if isinstance(exc, asyncpg.UniqueViolationError | asyncpg.DeadlockDetectedError):
            raise ConcurrencyConflict(str(exc)) from exc

    async def _release(self) -> None:
        connection, self._connection, self._transaction = self._connection, None, None
        if connection is not None:
            await self._pool.release(connection)

    @property
    def connection(self) -> Any:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    async def commit(self) -> None:
        await self._transaction.commit()
        self._transaction = None

    async def processed(
        self, positions: Sequence[MessagePosition], message_ids: Sequence[UUID]
    ) -> tuple[set[MessagePosition], set[UUID]]:
        rows = await self.connection.fetch(
            """
            SELECT p.topic, p.partition, p."offset", p.message_id
            FROM processed_messages p
            JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS m (topic, partition, "offset")
              USING (topic, partition, "offset")
            UNION ALL
            SELECT topic, partition, "offset", message_id FROM processed_messages
            WHERE message_id = ANY($4::uuid[])
            """,
            [p.topic for p in positions],
            [p.partition for p in positions],
            [p.offset for p in positions],
            list(message_ids),
        )
        wanted = set(positions)
        seen_positions = {
            position
            for row in rows
            if (position := MessagePosition(row["topic"], row["partition"], row["offset"]))
            in wanted
        }
        seen_ids = {row["message_id"] for row in rows if row["message_id"] is not None}
        return seen_positions, seen_ids

    async def load_shows(self, event_ids: Sequence[UUID]) -> list[ShowInventory]:
        return await load_shows(self.connection, event_ids)

    async def lock_shows(self, event_ids: Sequence[UUID]) -> list[ShowInventory]:
        # The show row is what every writer's version check is on, so it guards its stock.
        await self.connection.execute(
            "SELECT event_id FROM shows WHERE event_id = ANY($1::uuid[]) "
            "ORDER BY event_id FOR UPDATE",
            sorted(event_ids),
        )
        return await load_shows(self.connection, event_ids)

    async def load_bookings(self, booking_ids: Sequence[UUID]) -> list[BookingRecord]:
        rows = await self.connection.fetch(
            "SELECT booking_id, event_id, ticket_type_id, quantity, state, rejection_reason, "
            "hold_expires_at, claim_by, owner_id FROM bookings "
            "WHERE booking_id = ANY($1::uuid[])",
            list(booking_ids),
        )
        return [_booking(row) for row in rows]

    async def account_tickets(
        self, accounts: Sequence[AccountKey]
    ) -> dict[AccountKey, dict[UUID, int]]:
        tickets: dict[AccountKey, dict[UUID, int]] = {account: {} for account in accounts}
        rows = await self.connection.fetch(
            """
            SELECT b.event_id, b.owner_id, b.ticket_type_id, sum(b.quantity) AS tickets
            FROM bookings b
            JOIN unnest($1::uuid[], $2::text[]) AS a (event_id, owner_id)
              ON b.event_id = a.event_id AND b.owner_id = a.owner_id
            WHERE b.state IN ('reserved', 'sold')
            GROUP BY b.event_id, b.owner_id, b.ticket_type_id
            """,
            [event_id for event_id, _ in accounts],
            [owner_id for _, owner_id in accounts],
        )
        for row in rows:
            tickets[(row["event_id"], row["owner_id"])][row["ticket_type_id"]] = int(row["tickets"])
        return tickets

    async def unclaimed_holds(self, due_by: datetime, limit: int) -> list[BookingRecord]:
        rows = await self.connection.fetch(
            "SELECT booking_id, event_id, ticket_type_id, quantity, state, rejection_reason, "
            "hold_expires_at, claim_by, owner_id FROM bookings "
            "WHERE claim_by IS NOT NULL AND claim_by <= $1 AND state = $2 "
            "ORDER BY claim_by LIMIT $3",
            due_by,
            BookingState.RESERVED.value,
            limit,
        )
        return [_booking(row) for row in rows]

    async def save(
        self,
        *,
        new_shows: Sequence[ShowInventory],
        changed_shows: Sequence[ShowInventory],
        new_bookings: Sequence[BookingRecord],
        changed_bookings: Sequence[BookingRecord],
        new_entries: Sequence[WaitlistEntry] = (),
        changed_entries: Sequence[WaitlistEntry] = (),
    ) -> None:
        connection = self.connection
        if new_shows:
            await connection.executemany(
                "INSERT INTO shows (event_id, status, version, sale_starts_at, sale_ends_at, "
                "max_tickets_per_account, hold_minutes, waitlist_offer_minutes, waitlist_joins) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    (
                        s.event_id,
                        s.status.value,
                        s.version,
                        *_terms(s.sale),
                        s.windows.hold_minutes,
                        s.windows.offer_minutes,
                        s.waitlist_joins,
                    )
                    for s in new_shows
                ],
            )
        if changed_shows:
            status = await connection.execute(
                """
                UPDATE shows s SET status = c.status, version = c.version, updated_at = now(),
                    sale_starts_at = c.sale_starts_at, sale_ends_at = c.sale_ends_at,
                    max_tickets_per_account = c.max_tickets_per_account,
                    hold_minutes = c.hold_minutes,
                    waitlist_offer_minutes = c.waitlist_offer_minutes,
                    waitlist_joins = c.waitlist_joins
                FROM unnest(
                    $1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[],
                    $6::int[], $7::int[], $8::int[], $9::bigint[]
                ) AS c (event_id, status, version, sale_starts_at, sale_ends_at,
                        max_tickets_per_account, hold_minutes, waitlist_offer_minutes,
                        waitlist_joins)
                WHERE s.event_id = c.event_id AND s.version = c.version - 1
                """,
                [s.event_id for s in changed_shows],
                [s.status.value for s in changed_shows],
                [s.version for s in changed_shows],
                [s.sale.starts_at for s in changed_shows],
                [s.sale.ends_at for s in changed_shows],
                [s.sale.max_tickets_per_account for s in changed_shows],
                [s.windows.hold_minutes for s in changed_shows],
                [s.windows.offer_minutes for s in changed_shows],
                [s.waitlist_joins for s in changed_shows],
            )
            if _row_count(status) != len(changed_shows):
                raise ConcurrencyConflict("a show changed since this batch read it")
        stock = [
            (show.event_id, ticket)
            for show in (*new_shows, *changed_shows)
            for ticket in show.ticket_types.values()
        ]
        if stock:
            await connection.execute(
                """
                INSERT INTO ticket_stock AS t
                    (event_id, ticket_type_id, quantity, reserved, sold, stock_version,
                     sale_starts_at, sale_ends_at, max_tickets_per_account, offered,
                     sales_closed, removed)
                SELECT * FROM unnest(
                    $1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::int[], $6::bigint[],
                    $7::timestamptz[], $8::timestamptz[], $9::int[], $10::int[],
                    $11::boolean[], $12::boolean[]
                )
                ON CONFLICT (event_id, ticket_type_id) DO UPDATE
                SET quantity = EXCLUDED.quantity, reserved = EXCLUDED.reserved,
                    sold = EXCLUDED.sold, offered = EXCLUDED.offered,
                    stock_version = EXCLUDED.stock_version,
                    sale_starts_at = EXCLUDED.sale_starts_at,
                    sale_ends_at = EXCLUDED.sale_ends_at,
                    max_tickets_per_account = EXCLUDED.max_tickets_per_account,
                    sales_closed = EXCLUDED.sales_closed, removed = EXCLUDED.removed
                WHERE t.stock_version <> EXCLUDED.stock_version
                   OR (t.sale_starts_at, t.sale_ends_at, t.max_tickets_per_account,
                       t.sales_closed, t.removed)
                      IS DISTINCT FROM (EXCLUDED.sale_starts_at, EXCLUDED.sale_ends_at,
                                        EXCLUDED.max_tickets_per_account,
                                        EXCLUDED.sales_closed, EXCLUDED.removed)
                """,
                [event_id for event_id, _ in stock],
                [ticket.ticket_type_id for _, ticket in stock],
                [ticket.quantity for _, ticket in stock],
                [ticket.reserved for _, ticket in stock],
                [ticket.sold for _, ticket in stock],
                [ticket.version for _, ticket in stock],
                [ticket.sale.starts_at for _, ticket in stock],
                [ticket.sale.ends_at for _, ticket in stock],
                [ticket.sale.max_tickets_per_account for _, ticket in stock],
                [ticket.offered for _, ticket in stock],
                [ticket.sales_closed for _, ticket in stock],
                [ticket.removed for _, ticket in stock],
            )
        if new_bookings:
            await connection.executemany(
                "INSERT INTO bookings (booking_id, event_id, ticket_type_id, quantity, state, "
                "rejection_reason, hold_expires_at, claim_by, owner_id) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    (
                        b.booking_id,
                        b.event_id,
                        b.ticket_type_id,
                        b.quantity,
                        b.state.value,
                        _reason(b),
                        b.hold_expires_at,
                        b.claim_by,
                        b.owner_id,
                    )
                    for b in new_bookings
                ],
            )
        if changed_bookings:
            await connection.execute(
                """
                UPDATE bookings b
                SET state = c.state, rejection_reason = c.rejection_reason,
                    claim_by = c.claim_by, owner_id = c.owner_id, updated_at = now()
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
                    AS c (booking_id, state, rejection_reason, claim_by, owner_id)
                WHERE b.booking_id = c.booking_id
                """,
                [b.booking_id for b in changed_bookings],
                [b.state.value for b in changed_bookings],
                [_reason(b) for b in changed_bookings],
                [b.claim_by for b in changed_bookings],
                [b.owner_id for b in changed_bookings],
            )

        if new_entries:
            await connection.executemany(
                _INSERT_ENTRY,
                [
                    (
                        e.entry_id,
                        e.event_id,
                        e.ticket_type_id,
                        e.owner_id,
                        e.quantity,
                        e.customer_name,
                        e.customer_email,
                        e.number,
                        e.state.value,
                        e.joined_at,
                        e.offer_id,
                        e.offer_expires_at,
                        e.ended_at,
                    )
                    for e in new_entries
                ],
            )
        if changed_entries:
            await connection.execute(
                """
                UPDATE waitlist_entries e
                SET state = c.state, offer_id = c.offer_id,
                    offer_expires_at = c.offer_expires_at, ended_at = c.ended_at,
                    updated_at = now()
                FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[],
                            $5::timestamptz[])
                    AS c (entry_id, state, offer_id, offer_expires_at, ended_at)
                WHERE e.entry_id = c.entry_id
                """,
                [e.entry_id for e in changed_entries],
                [e.state.value for e in changed_entries],
                [e.offer_id for e in changed_entries],
                [e.offer_expires_at for e in changed_entries],
                [e.ended_at for e in changed_entries],
            )

    async def open_entries(self, event_ids: Sequence[UUID]) -> list[WaitlistEntry]:
        rows = await self.connection.fetch(
            _SELECT_ENTRIES
            + " WHERE event_id = ANY($1::uuid[]) AND state IN ('waiting', 'offered') "
            "ORDER BY event_id, number",
            list(event_ids),
        )
        return [_entry(row) for row in rows]

    async def entries_by_offer(self, offer_ids: Sequence[UUID]) -> list[WaitlistEntry]:
        rows = await self.connection.fetch(
            _SELECT_ENTRIES + " WHERE offer_id = ANY($1::uuid[])",
            list(offer_ids),
        )
        return [_entry(row) for row in rows]

    async def entry(self, entry_id: UUID) -> WaitlistEntry | None:
        row = await self.connection.fetchrow(_SELECT_ENTRIES + " WHERE entry_id = $1", entry_id)
        return _entry(row) if row is not None else None

    async def shows_due_for_offers(self, now: datetime, limit: int) -> list[UUID]:
        rows = await self.connection.fetch(
            """
            (SELECT event_id FROM waitlist_entries
             WHERE state = 'offered' AND offer_expires_at <= $1)
            UNION
            (SELECT DISTINCT e.event_id FROM waitlist_entries e
             JOIN ticket_stock t USING (event_id, ticket_type_id)
             WHERE e.state = 'waiting' AND NOT t.sales_closed AND NOT t.removed
               AND t.quantity - t.reserved - t.sold - t.offered >= e.quantity)
            ORDER BY event_id LIMIT $2
            """,
            now,
            limit,
        )
        return [row["event_id"] for row in rows]

    async def record_processed(self, messages: Sequence[ProcessedMessage]) -> None:
        if not messages:
            return
        await self.connection.execute(
            """
            INSERT INTO processed_messages (topic, partition, "offset", message_id, processed_as)
            SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::uuid[], $5::text[])
            """,
            [m.position.topic for m in messages],
            [m.position.partition for m in messages],
            [m.position.offset for m in messages],
            [m.message_id for m in messages],
            [m.processed_as for m in messages],
        )

    async def record_next_offset(
        self, position: MessagePosition, *, continues_from: int | None = None
    ) -> None:
        stored = await self.connection.fetchval(
            "SELECT next_offset FROM consumer_offsets WHERE topic = $1 AND partition = $2 "
            "FOR UPDATE",
            position.topic,
            position.partition,
        )
        if continues_from is not None and continues_from != (stored or 0):
            raise PositionMoved(
                f"{position.topic}[{position.partition}] is stored at {stored or 0}, "
                f"not {continues_from} where this batch was read from"
            )
        await self.connection.execute(
            """
            INSERT INTO consumer_offsets AS c (topic, partition, next_offset) VALUES ($1, $2, $3)
            ON CONFLICT (topic, partition) DO UPDATE
            SET next_offset = GREATEST(c.next_offset, EXCLUDED.next_offset)
            """,
            position.topic,
            position.partition,
            position.offset,
        )

    async def add_to_outbox(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        await self.connection.executemany(
            """
            INSERT INTO outbox (message_id, topic, key, value, header_names, header_values)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (message_id) DO NOTHING
            """,
            [
                (
                    m.message_id,
                    m.topic,
                    m.key,
                    m.value,
                    [name for name, _ in m.headers],
                    [value for _, value in m.headers],
                )
                for m in messages
            ],
        )


_ENTRY_COLUMNS = (
    "entry_id, event_id, ticket_type_id, owner_id, quantity, customer_name, customer_email, "
    "number, state, joined_at, offer_id, offer_expires_at, ended_at"
)
_SELECT_ENTRIES = f"SELECT {_ENTRY_COLUMNS} FROM waitlist_entries"  # noqa: S608  # our columns
_INSERT_ENTRY = (
    f"INSERT INTO waitlist_entries ({_ENTRY_COLUMNS}) "  # noqa: S608  # our columns
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)


def _entry(row: Any) -> WaitlistEntry:
    return WaitlistEntry(
        row["entry_id"],
        row["event_id"],
        row["ticket_type_id"],
        row["owner_id"],
        row["quantity"],
        row["customer_name"],
        row["customer_email"],
        row["number"],
        row["joined_at"],
        EntryState(row["state"]),
        row["offer_id"],
        row["offer_expires_at"],
        row["ended_at"],
    )


def _terms(terms: SaleTerms) -> tuple[datetime | None, datetime | None, int | None]:
    return terms.starts_at, terms.ends_at, terms.max_tickets_per_account


def _terms_of(row: Any) -> SaleTerms:
    return SaleTerms(row["sale_starts_at"], row["sale_ends_at"], row["max_tickets_per_account"])


def _row_count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


def _booking(row: Any) -> BookingRecord:
    reason = row["rejection_reason"]
    return BookingRecord(
        row["booking_id"],
        row["event_id"],
        row["ticket_type_id"],
        row["quantity"],
        BookingState(row["state"]),
        RejectionReason(reason) if reason is not None else None,
        row["hold_expires_at"],
        row["claim_by"],
        row["owner_id"],
    )


def _reason(booking: BookingRecord) -> str | None:
    reason = booking.rejection_reason
    return reason.value if reason is not None else None


async def load_shows(connection: Any, event_ids: Sequence[UUID]) -> list[ShowInventory]:
    rows = await connection.fetch(
        """
        SELECT s.event_id, s.status, s.version, s.sale_starts_at AS show_sale_starts_at,
               s.sale_ends_at AS show_sale_ends_at,
               s.max_tickets_per_account AS show_max_tickets_per_account,
               s.hold_minutes, s.waitlist_offer_minutes, s.waitlist_joins,
               t.ticket_type_id, t.quantity, t.reserved, t.sold, t.stock_version,
               t.sale_starts_at, t.sale_ends_at, t.max_tickets_per_account,
               t.offered, t.sales_closed, t.removed,
               (SELECT count(*) FROM waitlist_entries w
                WHERE w.event_id = t.event_id AND w.ticket_type_id = t.ticket_type_id
                  AND w.state IN ('waiting', 'offered')) AS open_entries
        FROM shows s LEFT JOIN ticket_stock t USING (event_id)
        WHERE s.event_id = ANY($1::uuid[])
        ORDER BY s.event_id, t.ticket_type_id
        """,
        list(event_ids),
    )
    shows: dict[UUID, ShowInventory] = {}
    for row in rows:
        show = shows.get(row["event_id"])
        if show is None:
            show = ShowInventory(
                row["event_id"],
                ShowStatus(row["status"]),
                {},
                row["version"],
                SaleTerms(
                    row["show_sale_starts_at"],
                    row["show_sale_ends_at"],
                    row["show_max_tickets_per_account"],
                ),
                HoldWindows(row["hold_minutes"], row["waitlist_offer_minutes"]),
                row["waitlist_joins"],
            )
            shows[show.event_id] = show
        if row["ticket_type_id"] is not None:
            show.ticket_types[row["ticket_type_id"]] = TicketStock(
                row["ticket_type_id"],
                row["quantity"],
                row["reserved"],
                row["sold"],
                row["stock_version"],
                _terms_of(row),
                row["offered"],
                row["sales_closed"],
                row["removed"],
                row["open_entries"],
            )
    return list(shows.values())


@dataclass(frozen=True)
class WaitlistFigures:
    ticket_type_id: UUID
    waiting: int
    tickets_wanted: int
    offers_open: int
    tickets_offered: int
    accepted: int
    expired_or_declined: int


@dataclass(frozen=True)
class InventoryQueries:
    """Reads for the operator API and the consumers' positions; never part of a decision."""

    pool: asyncpg.Pool

    async def show(self, event_id: UUID) -> ShowInventory | None:
        async with self.pool.acquire() as connection:
            shows = await load_shows(connection, [event_id])
        return shows[0] if shows else None

    async def event_ids(self) -> list[UUID]:
        rows = await self.pool.fetch("SELECT event_id FROM shows ORDER BY event_id")
        return [row["event_id"] for row in rows]

    async def show_with_bookings(
        self, event_id: UUID
    ) -> tuple[ShowInventory, list[BookingRecord]] | None:
        """The show and every booking of it, as of one snapshot."""
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            shows = await load_shows(connection, [event_id])
            rows = await connection.fetch(
                "SELECT booking_id, event_id, ticket_type_id, quantity, state, rejection_reason, "
                "hold_expires_at, claim_by, owner_id FROM bookings WHERE event_id = $1 "
                "ORDER BY booking_id",
                event_id,
            )
        if not shows:
            return None
        return shows[0], [_booking(row) for row in rows]

    async def next_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Per partition, the offset to continue from (missing: nothing consumed yet)."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT c.topic, c.partition, c.next_offset FROM consumer_offsets c "
                "JOIN unnest($1::text[], $2::int[]) AS p (topic, partition) "
                "USING (topic, partition)",
                [tp.topic for tp in partitions],
                [tp.partition for tp in partitions],
            )
        return {TopicPartition(row["topic"], row["partition"]): row["next_offset"] for row in rows}

    async def entries_of(
        self, owner_id: str, limit: int = 100
    ) -> list[tuple[WaitlistEntry, int | None]]:
        """The account's entries, newest first, each with its place while it waits."""
        rows = await self.pool.fetch(
            """
            SELECT e.*, CASE WHEN e.state = 'waiting' THEN (
                SELECT count(*) FROM waitlist_entries w
                WHERE w.event_id = e.event_id AND w.ticket_type_id = e.ticket_type_id
                  AND w.state = 'waiting' AND w.number <= e.number) END AS position
            FROM waitlist_entries e WHERE e.owner_id = $1
            ORDER BY e.joined_at DESC, e.number DESC LIMIT $2
            """,
            owner_id,
            limit,
        )
        return [(_entry(row), row["position"]) for row in rows]

    async def event_waitlist(self, event_id: UUID) -> list[WaitlistFigures] | None:
        """Per ticket type of the event (removed ones left out), its waitlist in figures;
        None for an event inventory does not know."""
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            known = await connection.fetchval(
                "SELECT count(*) FROM shows WHERE event_id = $1", event_id
            )
            rows = await connection.fetch(
                """
                SELECT t.ticket_type_id,
                    count(*) FILTER (WHERE e.state = 'waiting') AS waiting,
                    coalesce(sum(e.quantity) FILTER (WHERE e.state = 'waiting'), 0)
                        AS tickets_wanted,
                    count(*) FILTER (WHERE e.state = 'offered') AS offers_open,
                    coalesce(sum(e.quantity) FILTER (WHERE e.state = 'offered'), 0)
                        AS tickets_offered,
                    count(*) FILTER (WHERE e.state = 'accepted') AS accepted,
                    count(*) FILTER (WHERE e.state IN ('expired', 'declined'))
                        AS expired_or_declined
                FROM ticket_stock t
                LEFT JOIN waitlist_entries e USING (event_id, ticket_type_id)
                WHERE t.event_id = $1 AND NOT t.removed
                GROUP BY t.ticket_type_id ORDER BY t.ticket_type_id
                """,
                event_id,
            )
        if not known:
            return None
        return [WaitlistFigures(**dict(row)) for row in rows]

    async def outbox_pending(self) -> int:
        async with self.pool.acquire() as connection:
            count = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
        return int(count)
