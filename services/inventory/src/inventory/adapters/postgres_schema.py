"""Inventory tables, created idempotently at start-up."""

from __future__ import annotations

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS shows (
    event_id uuid PRIMARY KEY,
    status text NOT NULL,
    version bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ticket_stock (
    event_id uuid NOT NULL REFERENCES shows (event_id),
    ticket_type_id uuid NOT NULL,
    quantity integer NOT NULL CHECK (quantity >= 0),
    reserved integer NOT NULL CHECK (reserved >= 0),
    sold integer NOT NULL CHECK (sold >= 0),
    stock_version bigint NOT NULL,
    PRIMARY KEY (event_id, ticket_type_id),
    -- The last line of defence against overselling: the rules never get here.
    CONSTRAINT never_oversold CHECK (reserved + sold <= quantity)
);

CREATE TABLE IF NOT EXISTS bookings (
    booking_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    state text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bookings_by_event ON bookings (event_id);
-- Added with the hold call (POST /internal/v1/holds): a refusal's reason, so a retry is
-- answered the same; a hold's end; and, while it waits for its claim, its deadline.
ALTER TABLE bookings
    ADD COLUMN IF NOT EXISTS rejection_reason text,
    ADD COLUMN IF NOT EXISTS hold_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS claim_by timestamptz;
CREATE INDEX IF NOT EXISTS bookings_awaiting_claim ON bookings (claim_by)
    WHERE claim_by IS NOT NULL;

-- Added with sale terms (issue 22): an event's sale window and purchase limit, and each
-- ticket type's own (NULL: none; a ticket type's window bound: the event's), and the
-- account each booking is for, whose held and sold tickets a limit counts.
ALTER TABLE shows
    ADD COLUMN IF NOT EXISTS sale_starts_at timestamptz,
    ADD COLUMN IF NOT EXISTS sale_ends_at timestamptz,
    ADD COLUMN IF NOT EXISTS max_tickets_per_account integer;
ALTER TABLE ticket_stock
    ADD COLUMN IF NOT EXISTS sale_starts_at timestamptz,
    ADD COLUMN IF NOT EXISTS sale_ends_at timestamptz,
    ADD COLUMN IF NOT EXISTS max_tickets_per_account integer;
ALTER TABLE bookings ADD COLUMN IF NOT EXISTS owner_id text;
CREATE INDEX IF NOT EXISTS bookings_taking_tickets_by_account
    ON bookings (event_id, owner_id)
    WHERE owner_id IS NOT NULL AND state IN ('reserved', 'sold');

-- Added with the waitlist (issue 25): tickets held for waitlist offers, a ticket type's
-- closed sales and its removal, an event's hold and offer windows (NULL: the service's
-- default) and how many fans ever joined its waitlists (the next entry's place in order).
ALTER TABLE ticket_stock
    ADD COLUMN IF NOT EXISTS offered integer NOT NULL DEFAULT 0 CHECK (offered >= 0),
    ADD COLUMN IF NOT EXISTS sales_closed boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS removed boolean NOT NULL DEFAULT false;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'never_oversold_or_overoffered')
    THEN
        ALTER TABLE ticket_stock ADD CONSTRAINT never_oversold_or_overoffered
            CHECK (reserved + sold + offered <= quantity);
    END IF;
END $$;
ALTER TABLE shows
    ADD COLUMN IF NOT EXISTS hold_minutes integer,
    ADD COLUMN IF NOT EXISTS waitlist_offer_minutes integer,
    ADD COLUMN IF NOT EXISTS waitlist_joins bigint NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS waitlist_entries (
    entry_id uuid PRIMARY KEY,
    event_id uuid NOT NULL REFERENCES shows (event_id),
    ticket_type_id uuid NOT NULL,
    owner_id text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    customer_name text NOT NULL,
    customer_email text NOT NULL,
    number bigint NOT NULL,
    state text NOT NULL,
    joined_at timestamptz NOT NULL,
    offer_id uuid UNIQUE,
    offer_expires_at timestamptz,
    ended_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, number)
);
-- One open entry per account and ticket type; the rules never ask for a second.
CREATE UNIQUE INDEX IF NOT EXISTS waitlist_one_open_entry
    ON waitlist_entries (event_id, ticket_type_id, owner_id)
    WHERE state IN ('waiting', 'offered');
CREATE INDEX IF NOT EXISTS waitlist_open_entries
    ON waitlist_entries (event_id, ticket_type_id, number)
    WHERE state IN ('waiting', 'offered');
CREATE INDEX IF NOT EXISTS waitlist_offers_by_expiry
    ON waitlist_entries (offer_expires_at) WHERE state = 'offered';
CREATE INDEX IF NOT EXISTS waitlist_entries_by_owner ON waitlist_entries (owner_id, joined_at);

CREATE TABLE IF NOT EXISTS processed_messages (
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    message_id uuid,
    processed_as text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
CREATE UNIQUE INDEX IF NOT EXISTS processed_messages_message_id
    ON processed_messages (message_id) WHERE message_id IS NOT NULL;

-- Where each partition continues, written with the batch's effects. Messages that went to
-- the dead-letter topic have no processed_messages row, so this is the one source.
CREATE TABLE IF NOT EXISTS consumer_offsets (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    message_id uuid NOT NULL UNIQUE,
    topic text NOT NULL,
    key bytea,
    value bytea NOT NULL,
    header_names text[] NOT NULL,
    header_values bytea[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- The Kafka cluster the offsets above and the published outbox rows belong to.
CREATE TABLE IF NOT EXISTS broker_epoch (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id text NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);
"""

# Replicas start together; one creates the schema, the others wait for it.
_SCHEMA_LOCK = 0x1F0E_4E7E


async def create_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        had_offsets = await connection.fetchval("SELECT to_regclass('consumer_offsets')")
        await connection.execute(SCHEMA)
        if had_offsets is None:
            # Databases from before consumer_offsets: continue after what they processed.
            await connection.execute(
                'INSERT INTO consumer_offsets SELECT topic, partition, max("offset") + 1 '
                "FROM processed_messages GROUP BY topic, partition"
            )
