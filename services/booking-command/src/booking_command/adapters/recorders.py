"""Event-store recorders that also keep idempotency records and booking holds.

Both are written inside the transaction that stores the domain events, so a
command's effect, its idempotency record and its hold commit or fail together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, ProcessRecorder, StoredEvent
from eventsourcing.popo import POPOFactory, POPOProcessRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresFactory, PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier, Literal
from psycopg.types.json import Jsonb

from booking_command.application.ports import (
    BookingDisowned,
    BookingRecorder,
    DuePayment,
    EventCancellationProgress,
    EventCancellationStarted,
    EventCancellationTask,
    IdempotencyRecord,
    RowsWithEvents,
)

# A payment that becomes due is due at once; the worker's leases and back-offs move it later.
DUE_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
BOOKING_REQUESTED_TOPIC = "booking_command.domain.booking:Booking.Requested"


def _is_booking(first_events: Sequence[StoredEvent]) -> bool:
    return bool(first_events) and first_events[0].topic == BOOKING_REQUESTED_TOPIC


def _with_tracking(rows: RowsWithEvents, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments under which eventsourcing's process recorders write tracking."""
    return {**kwargs, "tracking": rows.tracking or kwargs.get("tracking")}


class PostgresBookingRecorder(PostgresProcessRecorder, BookingRecorder):
    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        if datastore.enable_db_functions:
            # The stored-function insert path ignores insert_events' keyword arguments.
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS must be off for the booking recorder")
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        prefix = events_table_name.removesuffix("_events")
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        idempotency = Identifier(f"{prefix}_idempotency")
        holds = Identifier(f"{prefix}_holds")
        epoch = Identifier(f"{prefix}_broker_epoch")
        payments = Identifier(f"{prefix}_payments_due")
        event_bookings = Identifier(f"{prefix}_event_bookings")
        cancellations = Identifier(f"{prefix}_event_cancellations")
        booking_ids = Identifier(f"{prefix}_booking_ids")
        event_ids = Identifier(f"{prefix}_event_ids")
        self.sql_create_statements.extend(
            [
                # Who had the first word on a booking id: a commit that stored the booking
                # (stored) or inventory asking about it before any did (disowned for good).
                # One key, so the two can never both win.
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "booking_id uuid PRIMARY KEY, stored boolean NOT NULL)"
                ).format(schema, booking_ids),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "scope text NOT NULL, key text NOT NULL, fingerprint text NOT NULL, "
                    "status_code integer NOT NULL, body jsonb NOT NULL, "
                    "aggregate_id uuid NOT NULL, aggregate_version bigint NOT NULL, "
                    "created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, "
                    "PRIMARY KEY (scope, key))"
                ).format(schema, idempotency),
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1}.{2} (expires_at)").format(
                    Identifier(f"{prefix}_idempotency_expiry_idx"), schema, idempotency
                ),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "booking_id uuid PRIMARY KEY, expires_at timestamptz NOT NULL)"
                ).format(schema, holds),
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1}.{2} (expires_at)").format(
                    Identifier(f"{prefix}_holds_expiry_idx"), schema, holds
                ),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "booking_id uuid PRIMARY KEY, due_at timestamptz NOT NULL, "
                    "attempts integer NOT NULL DEFAULT 0, correlation_id text NOT NULL, "
                    "traceparent text)"
                ).format(schema, payments),
                # Tables made before the payment worker continued the request's trace.
                SQL("ALTER TABLE {0}.{1} ADD COLUMN IF NOT EXISTS traceparent text").format(
                    schema, payments
                ),
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1}.{2} (due_at)").format(
                    Identifier(f"{prefix}_payments_due_at_idx"), schema, payments
                ),
                # Every booking of an event, in the order stored (seq), for its cancellation.
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "seq bigserial PRIMARY KEY, event_id uuid NOT NULL, "
                    "booking_id uuid NOT NULL UNIQUE)"
                ).format(schema, event_bookings),
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1}.{2} (event_id, seq)").format(
                    Identifier(f"{prefix}_event_bookings_event_idx"), schema, event_bookings
                ),
                # Bookings stored before the index existed (a one-time filter: skipped at
                # once when the index has rows).
                SQL(
                    "INSERT INTO {0}.{1} (event_id, booking_id) "
                    "SELECT (convert_from(state, 'UTF8')::jsonb #>> '{{event_id,_data_}}')"
                    "::uuid, originator_id FROM {0}.{2} WHERE topic = {3} "
                    "AND NOT EXISTS (SELECT 1 FROM {0}.{1}) "
                    "ORDER BY notification_id ON CONFLICT (booking_id) DO NOTHING"
                ).format(schema, event_bookings, events, Literal(BOOKING_REQUESTED_TOPIC)),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "event_id uuid PRIMARY KEY, cancelled_by text NOT NULL, "
                    "cancelled_at timestamptz NOT NULL, correlation_id text NOT NULL, "
                    "after_seq bigint NOT NULL DEFAULT 0, swept boolean NOT NULL DEFAULT false, "
                    "due_at timestamptz NOT NULL)"
                ).format(schema, cancellations),
                # The Kafka cluster the tracking positions (relay, saga) belong to.
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), "
                    "cluster_id text NOT NULL, tracking_epoch text NOT NULL, "
                    "adopted_at timestamptz NOT NULL DEFAULT now())"
                ).format(schema, epoch),
                # From which notification on a public event id names when its record was
                # recorded (`public_event_id`): set once, at the first start that knows it,
                # so a log stored before keeps the ids it was published with. A store
                # restored from before that start sets it again, as of the restored log.
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                    "singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), "
                    "timed_from bigint NOT NULL, since timestamptz NOT NULL DEFAULT now())"
                ).format(schema, event_ids),
                SQL(
                    "INSERT INTO {0}.{1} (timed_from) "
                    "SELECT coalesce(max(notification_id), 0) + 1 FROM {0}.{2} "
                    "ON CONFLICT (singleton) DO NOTHING"
                ).format(schema, event_ids, events),
            ]
        )
        self._claim_key = SQL(
            "INSERT INTO {0}.{1} AS existing (scope, key, fingerprint, status_code, body, "
            "aggregate_id, aggregate_version, created_at, expires_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
            "status_code = EXCLUDED.status_code, body = EXCLUDED.body, "
            "aggregate_id = EXCLUDED.aggregate_id, "
            "aggregate_version = EXCLUDED.aggregate_version, "
            "created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at "
            "WHERE existing.expires_at <= EXCLUDED.created_at RETURNING 1"
        ).format(schema, idempotency)
        self._find_key = SQL(
            "SELECT * FROM {0}.{1} WHERE scope = %s AND key = %s AND expires_at > %s"
        ).format(schema, idempotency)
        # eventsourcing selects one aggregate's events per query; the saga loads many at once.
        self._select_events_of = SQL(
            "SELECT * FROM {0}.{1} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version"
        ).format(schema, Identifier(self.events_table_name))
        self._find_keys = SQL(
            "SELECT found.* FROM {0}.{1} AS found "
            "JOIN unnest(%s::text[], %s::text[]) AS wanted (scope, key) "
            "ON found.scope = wanted.scope AND found.key = wanted.key "
            "WHERE found.expires_at > %s"
        ).format(schema, idempotency)
        self._purge_keys = SQL("DELETE FROM {0}.{1} WHERE expires_at <= %s").format(
            schema, idempotency
        )
        self._hold = SQL(
            "INSERT INTO {0}.{1} (booking_id, expires_at) VALUES (%s, %s) "
            "ON CONFLICT (booking_id) DO UPDATE SET expires_at = EXCLUDED.expires_at"
        ).format(schema, holds)
        self._release = SQL("DELETE FROM {0}.{1} WHERE booking_id = %s").format(schema, holds)
        self._expired_holds = SQL(
            "SELECT booking_id FROM {0}.{1} WHERE expires_at <= %s ORDER BY expires_at LIMIT %s"
        ).format(schema, holds)
        self._payment_due = SQL(
            "INSERT INTO {0}.{1} (booking_id, due_at, correlation_id, traceparent) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (booking_id) DO NOTHING"
        ).format(schema, payments)
        self._payment_settled = SQL("DELETE FROM {0}.{1} WHERE booking_id = %s").format(
            schema, payments
        )
        self._claim_payments = SQL(
            "UPDATE {0}.{1} AS due SET due_at = %s, attempts = due.attempts + 1 "
            "WHERE due.booking_id IN (SELECT booking_id FROM {0}.{1} WHERE due_at <= %s "
            "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING due.booking_id, due.attempts - 1 AS attempts, due.correlation_id, "
            "due.traceparent"
        ).format(schema, payments)
        self._postpone_payments = SQL(
            "UPDATE {0}.{1} SET due_at = %s WHERE booking_id = ANY(%s)"
        ).format(schema, payments)
        self._index_booking = SQL(
            "INSERT INTO {0}.{1} (event_id, booking_id) VALUES (%s, %s) "
            "ON CONFLICT (booking_id) DO NOTHING"
        ).format(schema, event_bookings)
        self._claim_booking_ids = SQL(
            "INSERT INTO {0}.{1} (booking_id, stored) SELECT unnest(%s::uuid[]), true "
            "ON CONFLICT (booking_id) DO NOTHING RETURNING booking_id"
        ).format(schema, booking_ids)
        # Bookings stored before the table existed are known by their events alone.
        self._disown_unstored = SQL(
            "INSERT INTO {0}.{1} (booking_id, stored) "
            "SELECT asked, false FROM unnest(%s::uuid[]) AS asked "
            "WHERE NOT EXISTS (SELECT 1 FROM {0}.{2} WHERE originator_id = asked "
            "AND originator_version = 1 AND topic = {3}) "
            "ON CONFLICT (booking_id) DO NOTHING"
        ).format(schema, booking_ids, events, Literal(BOOKING_REQUESTED_TOPIC))
        self._stored_bookings = SQL(
            "SELECT booking_id FROM {0}.{1} WHERE booking_id = ANY(%s) AND stored "
            "UNION SELECT originator_id FROM {0}.{2} "
            "WHERE originator_id = ANY(%s) AND originator_version = 1 AND topic = {3}"
        ).format(schema, booking_ids, events, Literal(BOOKING_REQUESTED_TOPIC))
        self._bookings_of_event = SQL(
            "SELECT seq, booking_id FROM {0}.{1} WHERE event_id = %s AND seq > %s "
            "ORDER BY seq LIMIT %s"
        ).format(schema, event_bookings)
        self._start_cancellation = SQL(
            "INSERT INTO {0}.{1} (event_id, cancelled_by, cancelled_at, correlation_id, due_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING"
        ).format(schema, cancellations)
        self._advance_cancellation = SQL(
            "UPDATE {0}.{1} SET after_seq = %s, swept = %s, due_at = %s WHERE event_id = %s"
        ).format(schema, cancellations)
        self._end_cancellation = SQL("DELETE FROM {0}.{1} WHERE event_id = %s").format(
            schema, cancellations
        )
        self._claim_cancellation = SQL(
            "UPDATE {0}.{1} AS due SET due_at = %s "
            "WHERE due.event_id IN (SELECT event_id FROM {0}.{1} WHERE due_at <= %s "
            "ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING due.*"
        ).format(schema, cancellations)
        self._count_cancellations = SQL("SELECT count(*) AS due FROM {0}.{1}").format(
            schema, cancellations
        )
        self._count_payments = SQL("SELECT count(*) AS due FROM {0}.{1}").format(schema, payments)
        self._count_holds = SQL("SELECT count(*) AS holds FROM {0}.{1}").format(schema, holds)
        self._broker_epoch = SQL("SELECT cluster_id, tracking_epoch FROM {0}.{1}").format(
            schema, epoch
        )
        self._lock_broker_epoch = SQL("SELECT cluster_id FROM {0}.{1} FOR UPDATE").format(
            schema, epoch
        )
        self._record_broker_epoch = SQL(
            "INSERT INTO {0}.{1} (cluster_id, tracking_epoch) VALUES (%s, %s) "
            "ON CONFLICT (singleton) DO NOTHING"
        ).format(schema, epoch)
        self._adopt_broker_epoch = SQL(
            "INSERT INTO {0}.{1} (cluster_id, tracking_epoch) VALUES (%s, %s) "
            "ON CONFLICT (singleton) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, "
            "tracking_epoch = EXCLUDED.tracking_epoch, adopted_at = now()"
        ).format(schema, epoch)
        self._timed_event_ids_from = SQL("SELECT timed_from FROM {0}.{1}").format(schema, event_ids)
        self._events_with_bookings = SQL(
            "SELECT DISTINCT event_id FROM {0}.{1} ORDER BY event_id"
        ).format(schema, event_bookings)
        self._select_records_of = SQL(
            "SELECT * FROM {0}.{1} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version"
        ).format(schema, events)
        # The column's own sequence, never moved back: past the greatest of `past`, every
        # stored position and every position it gave out.
        self._advance_positions = SQL(
            "WITH sequence AS (SELECT pg_get_serial_sequence(%s, 'notification_id') AS name) "
            "SELECT setval(sequence.name, greatest(%s, "
            "(SELECT coalesce(max(notification_id), 0) FROM {0}.{1}), "
            "coalesce(pg_sequence_last_value(sequence.name::regclass), 0))) AS newest "
            "FROM sequence"
        ).format(schema, events)
        self._positions_taken = SQL(
            "SELECT greatest((SELECT coalesce(max(notification_id), 0) FROM {0}.{1}), "
            "coalesce(pg_sequence_last_value("
            "pg_get_serial_sequence(%s, 'notification_id')::regclass), 0)) AS taken"
        ).format(schema, events)
        self._qualified_events = f"{self.datastore.schema}.{self.events_table_name}"
        self._notification_id = SQL(
            "SELECT notification_id FROM {0}.{1} "
            "WHERE originator_id = %s AND originator_version = %s"
        ).format(schema, events)

    # _insert_events is the hook eventsourcing's own PostgresProcessRecorder overrides to
    # write tracking inside insert_events' transaction; no public method offers one.
    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        rows = RowsWithEvents.from_save_kwargs(kwargs)
        super()._insert_events(curs, stored_events, **_with_tracking(rows, kwargs))
        for record in rows.idempotency:
            curs.execute(
                self._claim_key,
                (
                    record.scope,
                    record.key,
                    record.fingerprint,
                    record.status_code,
                    Jsonb(record.body),
                    record.aggregate_id,
                    record.aggregate_version,
                    record.created_at,
                    record.expires_at,
                ),
            )
            if curs.fetchone() is None:
                raise IntegrityError(f"idempotency key {record.key!r} is already in use")
        for change in rows.holds:
            if change.expires_at is None:
                curs.execute(self._release, (change.booking_id,))
            else:
                curs.execute(self._hold, (change.booking_id, change.expires_at))
        for payment in rows.payments:
            if payment.due:
                curs.execute(
                    self._payment_due,
                    (payment.booking_id, DUE_AT_ONCE, payment.correlation_id, payment.traceparent),
                )
            else:
                curs.execute(self._payment_settled, (payment.booking_id,))
        if rows.event_bookings:
            new_ids = [booked.booking_id for booked in rows.event_bookings]
            # A cursor of its own: in eventsourcing's pipeline a cursor's fetch answers its
            # first statement's results, and `curs` ran others before.
            with curs.connection.cursor() as claims:
                claims.execute(self._claim_booking_ids, (new_ids,))
                disowned = set(new_ids) - {row["booking_id"] for row in claims.fetchall()}
            if disowned:
                raise BookingDisowned(disowned)
            curs.executemany(
                self._index_booking,
                [(booked.event_id, booked.booking_id) for booked in rows.event_bookings],
            )
        for cancellation in rows.event_cancellations:
            self._change_cancellation(curs, cancellation)

    def _change_cancellation(
        self,
        curs: Cursor[DictRow],
        change: EventCancellationStarted | EventCancellationProgress,
    ) -> None:
        if isinstance(change, EventCancellationStarted):
            curs.execute(
                self._start_cancellation,
                (
                    change.event_id,
                    change.cancelled_by,
                    change.cancelled_at,
                    change.correlation_id,
                    DUE_AT_ONCE,
                ),
            )
        elif change.due_at is None:
            curs.execute(self._end_cancellation, (change.event_id,))
        else:
            curs.execute(
                self._advance_cancellation,
                (change.after_seq, change.swept, change.due_at, change.event_id),
            )

    def find_idempotency_record(
        self, scope: str, key: str, now: datetime
    ) -> IdempotencyRecord | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._find_key, (scope, key, now))
            row = curs.fetchone()
        return None if row is None else _idempotency_record(row)

    def find_idempotency_records(
        self, claims: Sequence[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], IdempotencyRecord]:
        if not claims:
            return {}
        scopes = [scope for scope, _ in claims]
        keys = [key for _, key in claims]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._find_keys, (scopes, keys, now))
            rows = curs.fetchall()
        return {(row["scope"], row["key"]): _idempotency_record(row) for row in rows}

    def select_events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        if not originator_ids:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_events_of, (list(originator_ids),), prepare=True)
            rows = curs.fetchall()
        found: dict[UUID, list[StoredEvent]] = {}
        for row in rows:
            found.setdefault(row["originator_id"], []).append(
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
            )
        return found

    def known_bookings(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._disown_unstored, (list(booking_ids),))
            curs.execute(self._stored_bookings, (list(booking_ids), list(booking_ids)))
            return {row["booking_id"] for row in curs.fetchall()}

    def purge_idempotency_records(self, now: datetime) -> int:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._purge_keys, (now,))
            return curs.rowcount

    def expired_holds(self, now: datetime, limit: int) -> Sequence[UUID]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._expired_holds, (now, limit))
            return [row["booking_id"] for row in curs.fetchall()]

    def pending_hold_count(self) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._count_holds)
            row = curs.fetchone()
        return int(row["holds"]) if row is not None else 0

    def claim_due_payments(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> Sequence[DuePayment]:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._claim_payments, (lease_until, now, limit))
            return [
                DuePayment(
                    row["booking_id"], row["attempts"], row["correlation_id"], row["traceparent"]
                )
                for row in curs.fetchall()
            ]

    def postpone_payments(self, booking_ids: Sequence[UUID], until: datetime) -> None:
        if booking_ids:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(self._postpone_payments, (until, list(booking_ids)))

    def due_payment_count(self) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._count_payments)
            row = curs.fetchone()
        return int(row["due"]) if row is not None else 0

    def claim_event_cancellation(
        self, now: datetime, lease_until: datetime
    ) -> EventCancellationTask | None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._claim_cancellation, (lease_until, now))
            row = curs.fetchone()
        if row is None:
            return None
        return EventCancellationTask(
            event_id=row["event_id"],
            cancelled_by=row["cancelled_by"],
            cancelled_at=row["cancelled_at"],
            after_seq=row["after_seq"],
            swept=row["swept"],
            correlation_id=row["correlation_id"],
        )

    def bookings_of_event(
        self, event_id: UUID, after_seq: int, limit: int
    ) -> Sequence[tuple[int, UUID]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._bookings_of_event, (event_id, after_seq, limit))
            return [(row["seq"], row["booking_id"]) for row in curs.fetchall()]

    def event_cancellation_count(self) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._count_cancellations)
            row = curs.fetchone()
        return int(row["due"]) if row is not None else 0

    def ping(self) -> None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute("SELECT 1")

    def notification_id_of(self, aggregate_id: UUID, version: int) -> int | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._notification_id, (aggregate_id, version))
            row = curs.fetchone()
        return int(row["notification_id"]) if row is not None else None

    def events_with_bookings(self) -> list[UUID]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._events_with_bookings)
            return [row["event_id"] for row in curs.fetchall()]

    def select_records_of(
        self, originator_ids: Sequence[UUID]
    ) -> dict[UUID, list[tuple[int, StoredEvent]]]:
        if not originator_ids:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_records_of, (list(originator_ids),))
            rows = curs.fetchall()
        found: dict[UUID, list[tuple[int, StoredEvent]]] = {}
        for row in rows:
            found.setdefault(row["originator_id"], []).append(
                (
                    int(row["notification_id"]),
                    StoredEvent(
                        originator_id=row["originator_id"],
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    ),
                )
            )
        return found

    def positions_taken(self) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._positions_taken, (self._qualified_events,))
            row = curs.fetchone()
        return int(row["taken"]) if row is not None else 0

    def advance_positions(self, past: int) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._advance_positions, (self._qualified_events, past))
            row = curs.fetchone()
            conn.commit()
        assert row is not None
        return int(row["newest"])

    def timed_event_ids_from(self) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._timed_event_ids_from)
            row = curs.fetchone()
        if row is None:
            raise LookupError("the event store's tables were not created (CREATE_TABLE off?)")
        return int(row["timed_from"])

    def broker_epoch(self) -> tuple[str, str] | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._broker_epoch)
            row = curs.fetchone()
        return (row["cluster_id"], row["tracking_epoch"]) if row is not None else None

    def record_broker_epoch(self, cluster_id: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._record_broker_epoch, (cluster_id, ""))

    def adopt_broker_epoch(self, cluster_id: str) -> bool:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._lock_broker_epoch)
            row = curs.fetchone()
            if row is not None and row["cluster_id"] == cluster_id:
                return False
            curs.execute(self._adopt_broker_epoch, (cluster_id, tracking_epoch_of(cluster_id)))
            return True


def tracking_epoch_of(cluster_id: str) -> str:
    """The suffix of the tracking streams of a cluster adopted after the first one."""
    return f"@{cluster_id}"


def _idempotency_record(row: DictRow) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=row["scope"],
        key=row["key"],
        fingerprint=row["fingerprint"],
        status_code=row["status_code"],
        body=row["body"],
        aggregate_id=row["aggregate_id"],
        aggregate_version=row["aggregate_version"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


class InMemoryBookingRecorder(POPOProcessRecorder, BookingRecorder):
    """The same contract in memory, for fast tests of the application.

    Its methods take `_database_lock`, the lock POPOProcessRecorder holds while it inserts
    events (it offers no public one), so they see a commit whole or not at all."""

    def __init__(self) -> None:
        super().__init__()
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self._holds: dict[UUID, datetime] = {}
        self._payments_due: dict[UUID, tuple[datetime, int, str]] = {}
        self._event_bookings: dict[UUID, list[tuple[int, UUID]]] = {}
        self._indexed_bookings: set[UUID] = set()
        self._cancellations: dict[UUID, EventCancellationTask] = {}
        self._cancellations_due: dict[UUID, datetime] = {}
        self._notification_ids: dict[tuple[str, int], int] = {}
        self._broker_epoch: tuple[str, str] | None = None
        self._booking_ids: dict[UUID, bool] = {}
        self._payment_traces: dict[UUID, str | None] = {}

    # The in-memory counterparts of the hook above, as POPOProcessRecorder overrides them.
    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        rows = RowsWithEvents.from_save_kwargs(kwargs)
        super()._assert_uniqueness(stored_events, **_with_tracking(rows, kwargs))
        claimed: set[tuple[str, str]] = set()
        for record in rows.idempotency:
            key = (record.scope, record.key)
            existing = self._idempotency.get(key)
            if key in claimed or (existing is not None and existing.expires_at > record.created_at):
                raise IntegrityError(f"idempotency key {record.key!r} is already in use")
            claimed.add(key)
        disowned = {
            booked.booking_id
            for booked in rows.event_bookings
            if self._booking_ids.get(booked.booking_id) is False
        }
        if disowned:
            raise BookingDisowned(disowned)

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = RowsWithEvents.from_save_kwargs(kwargs)
        notification_ids = super()._update_table(stored_events, **_with_tracking(rows, kwargs))
        for stored, notification_id in zip(stored_events, notification_ids or (), strict=False):
            key = (str(stored.originator_id), stored.originator_version)
            self._notification_ids[key] = notification_id
        for record in rows.idempotency:
            self._idempotency[(record.scope, record.key)] = record
        for change in rows.holds:
            if change.expires_at is None:
                self._holds.pop(change.booking_id, None)
            else:
                self._holds[change.booking_id] = change.expires_at
        for payment in rows.payments:
            if payment.due:
                if payment.booking_id not in self._payments_due:
                    due = (DUE_AT_ONCE, 0, payment.correlation_id)
                    self._payments_due[payment.booking_id] = due
                    self._payment_traces[payment.booking_id] = payment.traceparent
            else:
                self._payments_due.pop(payment.booking_id, None)
                self._payment_traces.pop(payment.booking_id, None)
        for booked in rows.event_bookings:
            self._booking_ids[booked.booking_id] = True
            if booked.booking_id not in self._indexed_bookings:
                self._indexed_bookings.add(booked.booking_id)
                seq = len(self._indexed_bookings)
                self._event_bookings.setdefault(booked.event_id, []).append(
                    (seq, booked.booking_id)
                )
        for cancellation in rows.event_cancellations:
            self._change_cancellation(cancellation)
        return notification_ids

    def _change_cancellation(
        self, change: EventCancellationStarted | EventCancellationProgress
    ) -> None:
        if isinstance(change, EventCancellationStarted):
            if change.event_id not in self._cancellations:
                self._cancellations[change.event_id] = EventCancellationTask(
                    change.event_id,
                    change.cancelled_by,
                    change.cancelled_at,
                    after_seq=0,
                    swept=False,
                    correlation_id=change.correlation_id,
                )
                self._cancellations_due[change.event_id] = DUE_AT_ONCE
        elif change.due_at is None:
            self._cancellations.pop(change.event_id, None)
            self._cancellations_due.pop(change.event_id, None)
        elif change.event_id in self._cancellations:
            task = self._cancellations[change.event_id]
            self._cancellations[change.event_id] = replace(
                task, after_seq=change.after_seq, swept=change.swept
            )
            self._cancellations_due[change.event_id] = change.due_at

    def find_idempotency_record(
        self, scope: str, key: str, now: datetime
    ) -> IdempotencyRecord | None:
        with self._database_lock:
            record = self._idempotency.get((scope, key))
        return record if record is not None and record.expires_at > now else None

    def find_idempotency_records(
        self, claims: Sequence[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], IdempotencyRecord]:
        found = {}
        for scope, key in claims:
            record = self.find_idempotency_record(scope, key, now)
            if record is not None:
                found[(scope, key)] = record
        return found

    def select_events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        found = {}
        for originator_id in originator_ids:
            events = list(self.select_events(originator_id))
            if events:
                found[originator_id] = events
        return found

    def known_bookings(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        with self._database_lock:
            stored = {
                booking_id
                for booking_id in booking_ids
                if self._booking_ids.get(booking_id)
                or _is_booking(self.select_events(booking_id, limit=1))
            }
            for booking_id in set(booking_ids) - stored:
                self._booking_ids.setdefault(booking_id, False)
            return stored

    def purge_idempotency_records(self, now: datetime) -> int:
        with self._database_lock:
            expired = [key for key, record in self._idempotency.items() if record.expires_at <= now]
            for key in expired:
                del self._idempotency[key]
        return len(expired)

    def expired_holds(self, now: datetime, limit: int) -> Sequence[UUID]:
        with self._database_lock:
            due = sorted(
                (expires_at, booking_id)
                for booking_id, expires_at in self._holds.items()
                if expires_at <= now
            )
        return [booking_id for _, booking_id in due[:limit]]

    def pending_hold_count(self) -> int:
        with self._database_lock:
            return len(self._holds)

    def claim_due_payments(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> Sequence[DuePayment]:
        with self._database_lock:
            due = sorted(
                (due_at, str(booking_id), booking_id, attempts, correlation_id)
                for booking_id, (due_at, attempts, correlation_id) in self._payments_due.items()
                if due_at <= now
            )[:limit]
            for _, _, booking_id, attempts, correlation_id in due:
                self._payments_due[booking_id] = (lease_until, attempts + 1, correlation_id)
            return [
                DuePayment(
                    booking_id, attempts, correlation_id, self._payment_traces.get(booking_id)
                )
                for *_, booking_id, attempts, correlation_id in due
            ]

    def postpone_payments(self, booking_ids: Sequence[UUID], until: datetime) -> None:
        with self._database_lock:
            for booking_id in booking_ids:
                if booking_id in self._payments_due:
                    _, attempts, correlation_id = self._payments_due[booking_id]
                    self._payments_due[booking_id] = (until, attempts, correlation_id)

    def due_payment_count(self) -> int:
        with self._database_lock:
            return len(self._payments_due)

    def claim_event_cancellation(
        self, now: datetime, lease_until: datetime
    ) -> EventCancellationTask | None:
        with self._database_lock:
            due = sorted(
                (due_at, str(event_id), event_id)
                for event_id, due_at in self._cancellations_due.items()
                if due_at <= now
            )
            if not due:
                return None
            event_id = due[0][2]
            self._cancellations_due[event_id] = lease_until
            return self._cancellations[event_id]

    def bookings_of_event(
        self, event_id: UUID, after_seq: int, limit: int
    ) -> Sequence[tuple[int, UUID]]:
        with self._database_lock:
            booked = self._event_bookings.get(event_id, [])
            return [row for row in booked if row[0] > after_seq][:limit]

    def event_cancellation_count(self) -> int:
        with self._database_lock:
            return len(self._cancellations)

    def ping(self) -> None:
        return None

    def notification_id_of(self, aggregate_id: UUID, version: int) -> int | None:
        with self._database_lock:
            return self._notification_ids.get((str(aggregate_id), version))

    def events_with_bookings(self) -> list[UUID]:
        with self._database_lock:
            return sorted(self._event_bookings, key=str)

    def select_records_of(
        self, originator_ids: Sequence[UUID]
    ) -> dict[UUID, list[tuple[int, StoredEvent]]]:
        found = {}
        with self._database_lock:
            for originator_id in originator_ids:
                events = list(self.select_events(originator_id))
                if events:
                    found[originator_id] = [
                        (self._notification_ids[(str(originator_id), e.originator_version)], e)
                        for e in events
                    ]
        return found

    def positions_taken(self) -> int:
        return self.max_notification_id() or 0

    def advance_positions(self, past: int) -> int:
        # Positions in memory are places in a list; no test restores an in-memory store.
        return self.max_notification_id() or 0

    def timed_event_ids_from(self) -> int:
        return 1

    def broker_epoch(self) -> tuple[str, str] | None:
        return self._broker_epoch

    def record_broker_epoch(self, cluster_id: str) -> None:
        with self._database_lock:
            if self._broker_epoch is None:
                self._broker_epoch = (cluster_id, "")

    def adopt_broker_epoch(self, cluster_id: str) -> bool:
        with self._database_lock:
            if self._broker_epoch is not None and self._broker_epoch[0] == cluster_id:
                return False
            self._broker_epoch = (cluster_id, tracking_epoch_of(cluster_id))
            return True


class PostgresEventStoreFactory(PostgresFactory):
    process_recorder_class = PostgresBookingRecorder


class InMemoryEventStoreFactory(POPOFactory):
    def process_recorder(self) -> ProcessRecorder:
        return InMemoryBookingRecorder()
