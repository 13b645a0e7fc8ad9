"""The design a user would otherwise pick: one service, one PostgreSQL transaction per booking.

A conditional UPDATE on the ticket-type row decides the sale, then an INSERT records it.
Every request for the same ticket type contends on that one row.

When `BENCH_PAYMENT_URL` is set it charges like the platform, against the same payment
provider (the simulator): after the reservation commits, a manual-capture payment intent
with an idempotency key derived from the booking, its capture, then the booking is
confirmed; a decline or a failed charge gives the tickets back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "20"))
PAYMENT_URL = os.environ.get("BENCH_PAYMENT_URL", "")
PAYMENT_KEY = os.environ.get("BENCH_PAYMENT_KEY", "")
PRICE_CENTS = 3000

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_types (
    id uuid PRIMARY KEY, quantity int NOT NULL, sold int NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bookings (
    id uuid PRIMARY KEY, ticket_type_id uuid NOT NULL REFERENCES ticket_types (id),
    quantity int NOT NULL, customer_email text NOT NULL, created_at timestamptz DEFAULT now(),
    status text NOT NULL DEFAULT 'CONFIRMED', payment_reference text,
    confirmed_at timestamptz DEFAULT now()
);
"""


class BookingRequest(BaseModel):
    ticket_type_id: uuid.UUID
    quantity: int = Field(ge=1, le=10)
    customer_email: str
    payment_token: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE)
    async with app.state.pool.acquire() as connection, connection.transaction():
        # Both workers start at once; concurrent CREATE TABLE IF NOT EXISTS can still collide.
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext('bench-single-service'))")
        await connection.execute(SCHEMA)
    app.state.provider = httpx.AsyncClient(
        base_url=PAYMENT_URL or "http://payments.invalid",
        headers={"Authorization": f"Bearer {PAYMENT_KEY}"},
        timeout=10,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
    )
    yield
    await app.state.provider.aclose()
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/ticket-types/{ticket_type_id}")
async def create_ticket_type(ticket_type_id: uuid.UUID, quantity: int) -> dict[str, int]:
    async with app.state.pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO ticket_types (id, quantity) VALUES ($1, $2)", ticket_type_id, quantity
        )
    return {"quantity": quantity}


@app.get("/ticket-types/{ticket_type_id}")
async def stock(ticket_type_id: uuid.UUID) -> dict[str, int]:
    async with app.state.pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT quantity, sold, (SELECT count(*) FROM bookings WHERE ticket_type_id = $1"
            " AND status = 'CONFIRMED')"
            " AS bookings, (SELECT coalesce(sum(quantity), 0) FROM bookings"
            " WHERE ticket_type_id = $1 AND status = 'CONFIRMED') AS booked"
            " FROM ticket_types WHERE id = $1",
            ticket_type_id,
        )
    return dict(row)


async def charge(booking_id: uuid.UUID, request: BookingRequest) -> str | None:
    """Create (manual capture) and capture exactly the total; the intent id, None if declined."""
    provider: httpx.AsyncClient = app.state.provider
    created = await provider.post(
        "/v1/payment_intents",
        json={
            "amount": PRICE_CENTS * request.quantity,
            "currency": "eur",
            "payment_method": request.payment_token,
            "capture_method": "manual",
            "metadata": {"booking_id": str(booking_id)},
        },
        headers={"Idempotency-Key": f"booking-{booking_id}-charge"},
    )
    if created.status_code == 402:
        return None
    created.raise_for_status()
    intent_id = str(created.json()["id"])
    captured = await provider.post(
        f"/v1/payment_intents/{intent_id}/capture",
        json={"amount_to_capture": PRICE_CENTS * request.quantity},
        headers={"Idempotency-Key": f"booking-{booking_id}-capture"},
    )
    captured.raise_for_status()
    return intent_id


@app.post("/bookings")
async def book(request: BookingRequest) -> JSONResponse:
    if not PAYMENT_URL:
        return await book_without_payment(request)
    booking_id = uuid.uuid4()
    async with app.state.pool.acquire() as connection:
        async with connection.transaction():
            sold = await connection.fetchval(
                "UPDATE ticket_types SET sold = sold + $2 WHERE id = $1 AND sold + $2 <= quantity"
                " RETURNING sold",
                request.ticket_type_id,
                request.quantity,
            )
            if sold is None:
                return JSONResponse({"error_type": "sold_out"}, status_code=409)
            await connection.execute(
                "INSERT INTO bookings (id, ticket_type_id, quantity, customer_email, status)"
                " VALUES ($1, $2, $3, $4, 'PENDING')",
                booking_id,
                request.ticket_type_id,
                request.quantity,
                request.customer_email,
            )
        try:
            reference = await charge(booking_id, request)
        except httpx.HTTPError:
            reference = None
        if reference is None:
            async with connection.transaction():
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
    return JSONResponse({"id": str(booking_id), "status": "CONFIRMED"}, status_code=201)


async def book_without_payment(request: BookingRequest) -> JSONResponse:
    async with app.state.pool.acquire() as connection, connection.transaction():
        sold = await connection.fetchval(
            "UPDATE ticket_types SET sold = sold + $2 WHERE id = $1 AND sold + $2 <= quantity"
            " RETURNING sold",
            request.ticket_type_id,
            request.quantity,
        )
        if sold is None:
            return JSONResponse({"error_type": "sold_out"}, status_code=409)
        booking_id = uuid.uuid4()
        await connection.execute(
            "INSERT INTO bookings (id, ticket_type_id, quantity, customer_email)"
            " VALUES ($1, $2, $3, $4)",
            booking_id,
            request.ticket_type_id,
            request.quantity,
            request.customer_email,
        )
    return JSONResponse({"id": str(booking_id), "status": "CONFIRMED"}, status_code=201)
