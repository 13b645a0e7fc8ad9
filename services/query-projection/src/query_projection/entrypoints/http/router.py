"""The internal query API: every resource under /internal/v1."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from query_projection.entrypoints.http import bookings, events, positions, venues

OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "venues", "description": "Venues read model (PostgreSQL)"},
    {"name": "events", "description": "Events, availability (Redis) and popularity"},
    {"name": "bookings", "description": "Bookings: status from Redis, details from PostgreSQL"},
    {"name": "projection", "description": "How far the read models have got"},
]

router = APIRouter()
router.include_router(venues.router)
router.include_router(events.router)
router.include_router(bookings.router)
router.include_router(positions.router)
