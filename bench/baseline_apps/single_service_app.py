"""The design a user would otherwise pick: one service, one PostgreSQL transaction per booking.

Each booking: the caller's JWT is verified as the gateway verifies it; one transaction
takes the tickets with a conditional UPDATE on the ticket-type row and records the booking
with its owner and `Idempotency-Key` (a repeated key answers with the first booking); then,
with the database connection back in the pool, the booking is charged at the payment
provider as booking-command charges it (aiohttp, a manual-capture intent with an
idempotency key derived from the booking, then its capture); a second transaction confirms
it and issues one ticket per seat (a random code, its QR payload signed with the event's
Ed25519 key), or gives the tickets back when the charge is declined or fails. After the
answer, a task renders the tickets' PDF and e-mails it to the customer over SMTP, then
records the mail as sent: the same downstream job the platform's entry and notifications
do for every confirmed booking, with the same PDF renderer and MIME composer, so the same
work costs the same on both sides.
"""

from __future__ import annotations

import asyncio
import html
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import aiohttp
import aiosmtplib
import asyncpg
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bench.baseline_apps.bearer import CallerId
from entry.adapters.pdf import TicketPdf
from entry.adapters.ticket_keys import TicketKeys
from entry.domain.tickets import new_code
from notifications.adapters.smtp_transport import compose
from notifications.application.ports import Attachment, Mail
from ticketing_contracts.tickets import BookingTickets, Ticket

DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))
PAYMENT_URL = os.environ["BENCH_PAYMENT_URL"]
PAYMENT_KEY = os.environ["BENCH_PAYMENT_KEY"]
SMTP_HOST = os.environ["BENCH_SMTP_HOST"]
SMTP_PORT = int(os.environ["BENCH_SMTP_PORT"])
# Off: the booking path alone (no tickets, no mail), to compare with the platform's.
TICKETS_AND_MAIL = os.environ.get("BENCH_TICKETS_AND_MAIL", "1") == "1"
MAIL_FROM = "Tickets <tickets@example.com>"
EVENT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
EVENT_NAME = "Flash Sale Live"
TICKET_TYPE_NAME = "General admission"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# booking-command's defaults: payments charged at once, connect and read timeouts.
PAYMENT_CONCURRENCY = 64
PAYMENT_CONNECT_TIMEOUT_SECONDS = 2.0
PAYMENT_TIMEOUT_SECONDS = 5.0
PRICE_CENTS = 3000

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_types (
    id uuid PRIMARY KEY, quantity int NOT NULL, sold int NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bookings (
    id uuid PRIMARY KEY, ticket_type_id uuid NOT NULL REFERENCES ticket_types (id),
    owner_id text NOT NULL, idempotency_key text, quantity int NOT NULL,
    customer_name text NOT NULL, customer_email text NOT NULL, status text NOT NULL,
    payment_reference text, created_at timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz, mail_sent_at timestamptz, UNIQUE (owner_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS tickets (
    id uuid PRIMARY KEY, booking_id uuid NOT NULL REFERENCES bookings (id),
    position_in_booking int NOT NULL, code text NOT NULL UNIQUE,
    issued_at timestamptz NOT NULL DEFAULT now(), UNIQUE (booking_id, position_in_booking)
);
"""


class BookingRequest(BaseModel):
    ticket_type_id: uuid.UUID
    quantity: int = Field(ge=1, le=10)
    customer_name: str = Field(min_length=1, max_length=200)
    customer_email: str = Field(min_length=3, max_length=320)
    payment_token: str


class Replayed(Exception):
    """The owner already sent this Idempotency-Key: the reservation is rolled back."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE)
    async with app.state.pool.acquire() as connection, connection.transaction():
        # Both workers start at once; concurrent CREATE TABLE IF NOT EXISTS can still collide.
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext('bench-single-service'))")
        await connection.execute(SCHEMA)
    app.state.provider = aiohttp.ClientSession(
        base_url=PAYMENT_URL,
        headers={"Authorization": f"Bearer {PAYMENT_KEY}"},
        connector=aiohttp.TCPConnector(limit=PAYMENT_CONCURRENCY),
        timeout=aiohttp.ClientTimeout(
            total=None, connect=PAYMENT_CONNECT_TIMEOUT_SECONDS, sock_read=PAYMENT_TIMEOUT_SECONDS
        ),
    )
    app.state.mailing = set()
    yield
    await asyncio.gather(*app.state.mailing)
    await app.state.provider.close()
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)
ticket_keys = TicketKeys(secrets.token_bytes(32))
ticket_pdf = TicketPdf(FONT)


@app.post("/ticket-types/{ticket_type_id}")
async def create_ticket_type(ticket_type_id: uuid.UUID, quantity: int) -> dict[str, int]:
    async with app.state.pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO ticket_types (id, quantity) VALUES ($1, $2)", ticket_type_id, quantity
        )
    return {"quantity": quantity}


async def charge(booking_id: uuid.UUID, request: BookingRequest) -> str | None:
    """Create (manual capture) and capture exactly the total; the intent id, None if declined."""
    provider: aiohttp.ClientSession = app.state.provider
    amount = PRICE_CENTS * request.quantity
    async with provider.post(
        "/v1/payment_intents",
        json={
            "amount": amount,
            "currency": "eur",
            "payment_method": request.payment_token,
            "capture_method": "manual",
            "metadata": {"booking_id": str(booking_id)},
        },
        headers={"Idempotency-Key": f"booking-{booking_id}-charge"},
    ) as created:
        if created.status == 402:
            return None
        created.raise_for_status()
        intent_id = str((await created.json())["id"])
    async with provider.post(
        f"/v1/payment_intents/{intent_id}/capture",
        json={"amount_to_capture": amount},
        headers={"Idempotency-Key": f"booking-{booking_id}-capture"},
    ) as captured:
        captured.raise_for_status()
        await captured.read()
    return intent_id


async def reserve(
    booking_id: uuid.UUID, request: BookingRequest, owner: str, idempotency_key: str | None
) -> bool:
    """Takes the tickets and records the booking PENDING; False when sold out."""
    async with app.state.pool.acquire() as connection, connection.transaction():
        sold = await connection.fetchval(
            "UPDATE ticket_types SET sold = sold + $2 WHERE id = $1 AND sold + $2 <= quantity"
            " RETURNING sold",
            request.ticket_type_id,
            request.quantity,
        )
        if sold is None:
            return False
        recorded = await connection.fetchval(
            "INSERT INTO bookings (id, ticket_type_id, owner_id, idempotency_key, quantity,"
            " customer_name, customer_email, status)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING')"
            " ON CONFLICT (owner_id, idempotency_key) DO NOTHING RETURNING id",
            booking_id,
            request.ticket_type_id,
            owner,
            idempotency_key,
            request.quantity,
            request.customer_name,
            request.customer_email,
        )
        if recorded is None:
            raise Replayed
    return True


@app.post("/bookings")
async def book(
    request: BookingRequest,
    owner: CallerId,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    booking_id = uuid.uuid4()
    try:
        if not await reserve(booking_id, request, owner, idempotency_key):
            return JSONResponse({"error_type": "sold_out"}, status_code=409)
    except Replayed:
        async with app.state.pool.acquire() as connection:
            first = await connection.fetchrow(
                "SELECT id, status FROM bookings WHERE owner_id = $1 AND idempotency_key = $2",
                owner,
                idempotency_key,
            )
        return JSONResponse({"id": str(first["id"]), "status": first["status"]}, status_code=200)
    try:
        reference = await charge(booking_id, request)
    except (aiohttp.ClientError, TimeoutError):
        reference = None
    async with app.state.pool.acquire() as connection, connection.transaction():
        if reference is None:
            await connection.execute(
                "UPDATE ticket_types SET sold = sold - $2 WHERE id = $1",
                request.ticket_type_id,
                request.quantity,
            )
            await connection.execute(
                "UPDATE bookings SET status = 'REJECTED' WHERE id = $1", booking_id
            )
            return JSONResponse({"error_type": "payment_failed"}, status_code=402)
        await connection.execute(
            "UPDATE bookings SET status = 'CONFIRMED', payment_reference = $2,"
            " confirmed_at = now() WHERE id = $1",
            booking_id,
            reference,
        )
        if not TICKETS_AND_MAIL:
            return JSONResponse({"id": str(booking_id), "status": "CONFIRMED"}, status_code=201)
        tickets = await issue_tickets(connection, booking_id, request)
    mailing = asyncio.create_task(mail_tickets(booking_id, request, tickets))
    app.state.mailing.add(mailing)
    mailing.add_done_callback(app.state.mailing.discard)
    return JSONResponse({"id": str(booking_id), "status": "CONFIRMED"}, status_code=201)


async def issue_tickets(
    connection: asyncpg.Connection, booking_id: uuid.UUID, request: BookingRequest
) -> list[Ticket]:
    """One ticket per seat, in the confirming transaction."""
    issued_at = datetime.now(UTC)
    tickets = []
    for _ in range(request.quantity):
        code = new_code()
        tickets.append(
            Ticket(
                ticket_id=uuid.uuid4(),
                booking_id=booking_id,
                event_id=EVENT_ID,
                ticket_type_id=request.ticket_type_id,
                ticket_type_name=TICKET_TYPE_NAME,
                holder_name=request.customer_name,
                code=code,
                qr_payload=ticket_keys.payload(EVENT_ID, code),
                status="valid",
                issued_at=issued_at,
            )
        )
    await connection.executemany(
        "INSERT INTO tickets (id, booking_id, position_in_booking, code) VALUES ($1, $2, $3, $4)",
        [(ticket.ticket_id, booking_id, n, ticket.code) for n, ticket in enumerate(tickets)],
    )
    return tickets


async def mail_tickets(
    booking_id: uuid.UUID, request: BookingRequest, tickets: list[Ticket]
) -> None:
    """The confirmation with the tickets' PDF, then the booking marked mailed (a failed
    send leaves it unmarked, for a sweep to send again)."""
    pdf = ticket_pdf(
        BookingTickets(
            booking_id=booking_id, event_id=EVENT_ID, event_name=EVENT_NAME, tickets=tickets
        )
    )
    total = PRICE_CENTS * request.quantity / 100
    text = (
        f"Hello {request.customer_name},\n\nyour booking is confirmed: {request.quantity} x"
        f" {TICKET_TYPE_NAME} for {EVENT_NAME}.\nYou paid EUR {total:.2f}.\n\n"
        "Your tickets are attached (tickets.pdf): one page per ticket, each with its own QR"
        f" code.\n\nBooking {booking_id}\n"
    )
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n") if line)
    mail = Mail(
        to_name=request.customer_name,
        to_address=request.customer_email,
        subject=f"Your tickets for {EVENT_NAME}",
        text=text,
        html=f"<!doctype html><html><body>{paragraphs}</body></html>",
        message_id=f"<booking-{booking_id}-confirmed@tickets.example.com>",
        attachments=(Attachment("tickets.pdf", "application/pdf", pdf),),
    )
    try:
        await aiosmtplib.send(
            compose(mail, MAIL_FROM), hostname=SMTP_HOST, port=SMTP_PORT, timeout=30
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        return
    async with app.state.pool.acquire() as connection:
        await connection.execute(
            "UPDATE bookings SET mail_sent_at = now() WHERE id = $1", booking_id
        )
