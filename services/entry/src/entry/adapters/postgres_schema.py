"""entry's tables, created at start (idempotent)."""

from __future__ import annotations

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS consumer_offsets (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS broker_epoch (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id text NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS events (
    event_id uuid PRIMARY KEY,
    name text NOT NULL,
    starts_at timestamptz,
    cancelled boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS ticket_types (
    ticket_type_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    name text NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_types_by_event ON ticket_types (event_id);
CREATE TABLE IF NOT EXISTS bookings (
    booking_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    owner_id text NOT NULL,
    confirmed_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id uuid PRIMARY KEY,
    booking_id uuid NOT NULL,
    position_in_booking integer NOT NULL,
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    holder_name text NOT NULL,
    code text NOT NULL UNIQUE,
    status text NOT NULL CHECK (status IN ('valid', 'checked_in', 'voided')),
    issued_at timestamptz NOT NULL,
    checked_in_at timestamptz,
    entrance text,
    voided_reason text,
    UNIQUE (booking_id, position_in_booking)
);
CREATE INDEX IF NOT EXISTS tickets_by_event ON tickets (event_id, ticket_type_id);
-- Codes a re-issue replaced: they answer voided/reissued at the door.
CREATE TABLE IF NOT EXISTS retired_codes (
    code text PRIMARY KEY,
    ticket_id uuid NOT NULL REFERENCES tickets (ticket_id),
    event_id uuid NOT NULL,
    retired_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS retired_codes_by_event ON retired_codes (event_id);
CREATE TABLE IF NOT EXISTS door_staff (
    event_id uuid NOT NULL,
    user_id text NOT NULL,
    assigned_by text NOT NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, user_id)
);
-- Offline scans already synced, with their first answer (a scan synced twice counts once).
CREATE TABLE IF NOT EXISTS synced_scans (
    scan_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    answer jsonb NOT NULL,
    conflict boolean NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now()
);
"""

# Two replicas starting at once would both run CREATE TABLE IF NOT EXISTS and one could
# fail on the catalog's unique index: the lock makes them take turns.
_SCHEMA_LOCK = 0x656E747279


async def ensure_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        await connection.execute(SCHEMA)
