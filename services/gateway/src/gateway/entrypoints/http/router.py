"""The public API: every resource under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.entrypoints.http import (
    admin,
    auth,
    bookings,
    events,
    tickets,
    venues,
    waiting_room,
    waitlist,
)

OPENAPI_TAGS = [
    {"name": "auth", "description": "Register and log in (OAuth2 password flow, bearer JWT)"},
    {"name": "users", "description": "Your account; admins grant roles"},
    {"name": "venues", "description": "Venues: managers write, admins delete, anyone reads"},
    {"name": "events", "description": "Events and ticket types; search, popularity, availability"},
    {"name": "bookings", "description": "Book tickets and follow a booking until it is final"},
    {
        "name": "tickets",
        "description": "Your tickets (codes, QR, PDF); check-in at the door by the event's "
        "door staff, online or synced after scanning offline",
    },
    {
        "name": "waiting room",
        "description": "A fair queue in front of an on-sale: organisers turn it on per event, "
        "fans join, wait and are admitted with a pass their bookings carry",
    },
    {
        "name": "waitlist",
        "description": "After the sell-out: fans queue for a sold-out ticket type and tickets "
        "that come back are offered to them in order, held for a while, booked with the offer",
    },
    {"name": "admin", "description": "Operators: platform health, live sales, dead letters"},
]


def api_routers() -> list[APIRouter]:
    # Each router carries its full prefix so metrics and logs name the full route template.
    return [
        auth.auth_router,
        auth.users_router,
        venues.router,
        events.router,
        bookings.router,
        tickets.router,
        waiting_room.router,
        waitlist.router,
        admin.router,
    ]
