"""entry's internal API: every resource under /internal/v1."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from entry.entrypoints.http import door, tickets

OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "tickets", "description": "A booking's tickets, the PDF, re-issuing"},
    {"name": "door", "description": "Door staff, scans, offline sync, check-in progress"},
]

router = APIRouter()
router.include_router(tickets.router)
router.include_router(door.router)
service_router = tickets.service_router
