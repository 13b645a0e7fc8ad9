"""The design a user would otherwise pick: one service, one PostgreSQL transaction per booking.

A conditional UPDATE on the ticket-type row decides the sale, then an INSERT records it.
Every request for the same ticket type contends on that one row.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "20"))

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_types (
    id uuid PRIMARY KEY, quantity int NOT NULL, sold int NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bookings (
    id uuid PRIMARY KEY, ticket_type_id uuid NOT NULL REFERENCES ticket_types (id),
    quantity int NOT NULL, customer_email text NOT NULL, created_at timestamptz DEFAULT now()
);
"""


class BookingRequest(BaseModel):
    ticket_type_id: uuid.UUID
    quantity: int = Field(ge=1, le=10)
    customer_email: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE)
    async with app.state.pool.acquire() as connection:
        await connection.execute(SCHEMA)
    yield
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
            "SELECT quantity, sold, (SELECT count(*) FROM bookings WHERE ticket_type_id = $1)"
            " AS bookings, (SELECT coalesce(sum(quantity), 0) FROM bookings"
            " WHERE ticket_type_id = $1) AS booked FROM ticket_types WHERE id = $1",
            ticket_type_id,
        )
    return dict(row)


@app.post("/bookings")
async def book(request: BookingRequest) -> JSONResponse:
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
