"""Read-model tables, one PostgreSQL schema per generation (`rm_<n>`).

`projection.read_model_pointer` names the generation queries are served from;
a rebuild fills a new generation and switches the pointer in one transaction.
"""

from __future__ import annotations

import re

import asyncpg

POINTER_SCHEMA = "projection"
_GENERATION_SCHEMA = re.compile(r"^rm_(\d+)$")
_ADVISORY_LOCK = 0x5150_4A


def schema_name(generation: int) -> str:
    if generation < 1:
        raise ValueError(f"generation must be positive, got {generation}")
    return f"rm_{generation}"


def in_schema(sql: str, generation: int) -> str:
    """Qualifies `{s}` in a statement with a generation's schema (never user input)."""
    return sql.replace("{s}", schema_name(generation))


POINTER_DDL = """
CREATE SCHEMA IF NOT EXISTS projection;
CREATE TABLE IF NOT EXISTS projection.read_model_pointer (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    generation integer NOT NULL,
    switched_at timestamptz NOT NULL DEFAULT now()
);
-- Facts the event store no longer holds after a restore (domain/set_aside.py): outside the
-- generations, so every rebuild leaves them out too.
CREATE TABLE IF NOT EXISTS projection.set_aside_facts (
    subject uuid PRIMARY KEY,
    held_event_ids uuid[] NOT NULL,
    recorded_until timestamptz NOT NULL,
    set_aside_at timestamptz NOT NULL DEFAULT now()
);
-- The Kafka cluster the generations' offsets belong to (adapters/broker_epoch.py).
CREATE TABLE IF NOT EXISTS projection.broker_epoch (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id text NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);
"""

GENERATION_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};

CREATE TABLE IF NOT EXISTS {s}.venues (
    venue_id uuid PRIMARY KEY,
    name text NOT NULL,
    capacity integer NOT NULL,
    address text NOT NULL,
    deleted boolean NOT NULL,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS venues_by_name ON {s}.venues (lower(name), venue_id)
    WHERE NOT deleted;

CREATE TABLE IF NOT EXISTS {s}.events (
    event_id uuid PRIMARY KEY,
    venue_id uuid NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    starts_at timestamptz NOT NULL,
    status text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    search tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', name || ' ' || description)
    ) STORED
);
CREATE INDEX IF NOT EXISTS events_by_start ON {s}.events (starts_at, event_id);
CREATE INDEX IF NOT EXISTS events_by_venue ON {s}.events (venue_id, starts_at);
CREATE INDEX IF NOT EXISTS events_by_status ON {s}.events (status, starts_at);
CREATE INDEX IF NOT EXISTS events_by_name ON {s}.events (lower(name), event_id);
CREATE INDEX IF NOT EXISTS events_search ON {s}.events USING gin (search);

CREATE TABLE IF NOT EXISTS {s}.ticket_types (
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    name text NOT NULL,
    price numeric(14, 2) NOT NULL,
    currency text NOT NULL,
    quantity integer NOT NULL,
    sort_order integer NOT NULL,
    PRIMARY KEY (event_id, ticket_type_id)
);

-- Sale terms (issue 22): the event's, and each ticket type's own (NULL: none; a ticket
-- type's window bound: the event's).
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS sale_starts_at timestamptz;
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS sale_ends_at timestamptz;
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS max_tickets_per_account integer;
ALTER TABLE {s}.ticket_types ADD COLUMN IF NOT EXISTS sale_starts_at timestamptz;
ALTER TABLE {s}.ticket_types ADD COLUMN IF NOT EXISTS sale_ends_at timestamptz;
ALTER TABLE {s}.ticket_types ADD COLUMN IF NOT EXISTS max_tickets_per_account integer;

-- Organiser edits (issue 25): hold and waitlist offer windows (NULL: the services'
-- defaults), closed sales, and removed ticket types (kept, so a late redelivery of their
-- addition does not bring them back; reads leave them out).
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS hold_minutes integer;
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS waitlist_offer_minutes integer;
ALTER TABLE {s}.ticket_types ADD COLUMN IF NOT EXISTS sales_closed boolean NOT NULL DEFAULT false;
ALTER TABLE {s}.ticket_types ADD COLUMN IF NOT EXISTS removed boolean NOT NULL DEFAULT false;

CREATE TABLE IF NOT EXISTS {s}.stock (
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    quantity integer NOT NULL,
    reserved integer NOT NULL,
    sold integer NOT NULL,
    available integer NOT NULL,
    stock_version bigint NOT NULL,
    provisional boolean NOT NULL,
    PRIMARY KEY (event_id, ticket_type_id)
);

CREATE TABLE IF NOT EXISTS {s}.event_sales (
    event_id uuid PRIMARY KEY,
    tickets_sold integer NOT NULL
);
CREATE INDEX IF NOT EXISTS event_sales_popular ON {s}.event_sales (tickets_sold DESC, event_id);

CREATE TABLE IF NOT EXISTS {s}.bookings (
    booking_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    quantity integer NOT NULL,
    status text NOT NULL,
    version integer NOT NULL,
    owner_id text,
    customer_name text,
    customer_email text,
    unit_price numeric(14, 2),
    total_price numeric(14, 2),
    currency text,
    hold_expires_at timestamptz,
    reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
ALTER TABLE {s}.bookings ADD COLUMN IF NOT EXISTS payment_status text;
ALTER TABLE {s}.bookings ADD COLUMN IF NOT EXISTS payment_reference text;
CREATE INDEX IF NOT EXISTS bookings_by_owner
    ON {s}.bookings (owner_id, created_at DESC, booking_id);
CREATE INDEX IF NOT EXISTS bookings_by_email
    ON {s}.bookings (customer_email, created_at DESC, booking_id);
CREATE INDEX IF NOT EXISTS bookings_by_event
    ON {s}.bookings (event_id, created_at DESC, booking_id);
CREATE INDEX IF NOT EXISTS bookings_by_status ON {s}.bookings (status, created_at DESC, booking_id);

CREATE TABLE IF NOT EXISTS {s}.projection_offsets (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    last_position bigint,
    last_occurred_at timestamptz,
    PRIMARY KEY (topic, partition)
);
"""

READ_MODEL_TABLES = (
    "venues",
    "events",
    "ticket_types",
    "stock",
    "event_sales",
    "bookings",
    "projection_offsets",
)


async def _create_generation_tables(connection: asyncpg.Connection, generation: int) -> None:
    await connection.execute(in_schema(GENERATION_DDL, generation))


async def existing_generations(connection: asyncpg.Connection) -> list[int]:
    names = await connection.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm\\_%'")
    found = (_GENERATION_SCHEMA.match(row["nspname"]) for row in names)
    return sorted(int(match.group(1)) for match in found if match)


async def ensure_read_models(pool: asyncpg.Pool) -> int:
    """Create the pointer and the active generation's tables if missing; return it."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
        await connection.execute(POINTER_DDL)
        generation = await connection.fetchval(
            "SELECT generation FROM projection.read_model_pointer"
        )
        if generation is None:
            generation = 1
            await connection.execute(
                "INSERT INTO projection.read_model_pointer (generation) VALUES ($1)", generation
            )
        await _create_generation_tables(connection, generation)
        return int(generation)


async def create_generation(pool: asyncpg.Pool) -> int:
    """A new, empty generation after every existing one; not yet active."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
        generation = max(await existing_generations(connection), default=0) + 1
        await _create_generation_tables(connection, generation)
        return generation


async def drop_generations(pool: asyncpg.Pool, keep: set[int]) -> list[int]:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
        active = await connection.fetchval("SELECT generation FROM projection.read_model_pointer")
        dropped = [
            g for g in await existing_generations(connection) if g not in keep and g != active
        ]
        for generation in dropped:
            await connection.execute(in_schema("DROP SCHEMA {s} CASCADE", generation))
        return dropped
