"""notifications' tables, in their own schema: consumer positions, what the mails need to
know (bookings' customers, waitlist offers, events), and the outbox of notices keyed by
their fact."""

from __future__ import annotations

import asyncpg

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS notifications;

CREATE TABLE IF NOT EXISTS notifications.consumer_offsets (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- The Kafka cluster the offsets above belong to.
CREATE TABLE IF NOT EXISTS notifications.broker_epoch (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id text NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS notifications.bookings (
    booking_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    quantity integer NOT NULL,
    customer_name text NOT NULL,
    customer_email text NOT NULL,
    total_price numeric(12, 2) NOT NULL,
    currency text NOT NULL
);

CREATE TABLE IF NOT EXISTS notifications.events (
    event_id uuid PRIMARY KEY,
    name text,
    starts_at timestamptz
);

CREATE TABLE IF NOT EXISTS notifications.ticket_types (
    ticket_type_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    name text NOT NULL
);

-- What a waitlist offer's notices need (its end does not repeat the fan's contact).
CREATE TABLE IF NOT EXISTS notifications.waitlist_offers (
    offer_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    quantity integer NOT NULL,
    customer_name text NOT NULL,
    customer_email text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One row per notice, keyed by the fact that caused it: a fact read again adds nothing.
CREATE TABLE IF NOT EXISTS notifications.outbox (
    fact_id uuid PRIMARY KEY,
    kind text NOT NULL,
    booking_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'superseded')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    message_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);

-- A notice is about a booking or, since the waitlist, about an offer.
ALTER TABLE notifications.outbox ADD COLUMN IF NOT EXISTS offer_id uuid;
ALTER TABLE notifications.outbox ALTER COLUMN booking_id DROP NOT NULL;

CREATE INDEX IF NOT EXISTS outbox_due ON notifications.outbox (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_failed ON notifications.outbox (created_at)
    WHERE status = 'failed';
-- A booking's (or an offer's) notices go in the order of their facts.
CREATE INDEX IF NOT EXISTS outbox_pending_booking ON notifications.outbox (booking_id, occurred_at)
    WHERE status = 'pending' AND booking_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_pending_offer ON notifications.outbox (offer_id, occurred_at)
    WHERE status = 'pending' AND offer_id IS NOT NULL;
"""


async def create_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection, connection.transaction():
        # Replicas starting together: one creates, the others wait for it.
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext('notifications.schema'))")
        await connection.execute(SCHEMA)
