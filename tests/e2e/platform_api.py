"""What a client does through the gateway's public API: set up a show, book, wait, look."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from ticketing_contracts.events import SETTLED_STATUSES

from .stack_helpers import PASSWORD, login

SETTLED: frozenset[str] = SETTLED_STATUSES
T = TypeVar("T")


@dataclass(frozen=True)
class Show:
    """A published event and its ticket types (name -> id)."""

    event_id: str
    ticket_types: dict[str, str]

    def ticket_type(self, name: str) -> str:
        return self.ticket_types[name]


@dataclass(frozen=True)
class Fan:
    user_id: str
    email: str
    headers: dict[str, str]


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    within: float,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    """Poll `probe` until `done(result)`; fail with the last result after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within:.0f}s; last: {result!r}")
        await asyncio.sleep(interval)


async def register_fan(client: httpx.AsyncClient, name: str = "Sam Fan") -> Fan:
    email = f"fan-{uuid.uuid4().hex[:12]}@example.com"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name}
    )
    assert registered.status_code == 201, registered.text
    return Fan(registered.json()["id"], email, await login(client, email, PASSWORD))


async def create_venue(
    client: httpx.AsyncClient, headers: Mapping[str, str], *, capacity: int = 100_000
) -> str:
    venue = await client.post(
        "/api/v1/venues",
        json={
            "name": f"Arena {uuid.uuid4().hex[:6]}",
            "capacity": capacity,
            "address": "1 Harbour Road, Bristol",
        },
        headers=dict(headers),
    )
    assert venue.status_code == 201, venue.text
    return str(venue.json()["id"])


async def published_show(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    quantities: Mapping[str, int],
    *,
    name: str = "Flash Sale Live",
    venue_id: str | None = None,
) -> Show:
    """Create a venue (unless given), an event with these ticket types, and publish it."""
    venue_id = venue_id or await create_venue(client, headers)
    created = await client.post(
        "/api/v1/events",
        json={
            "venue_id": venue_id,
            "name": name,
            "starts_at": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
            "ticket_types": [
                {"name": ticket_type, "price": "30.00", "quantity": quantity}
                for ticket_type, quantity in quantities.items()
            ],
        },
        headers=dict(headers),
    )
    assert created.status_code == 201, created.text
    event_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/events/{event_id}/publish", headers=dict(headers))
    assert published.status_code == 200, published.text
    read = await client.get(f"/api/v1/events/{event_id}", headers=dict(headers))
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "published", read.json()
    types = {item["name"]: str(item["ticket_type_id"]) for item in read.json()["ticket_types"]}
    return Show(event_id, types)


async def request_booking(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    event_id: str,
    ticket_type_id: str,
    quantity: int,
    *,
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
    card: str = "tok_visa",
    customer_name: str = "Sam Fan",
    customer_email: str = "sam.fan@example.com",
    offer_id: str | None = None,
) -> httpx.Response:
    extra = {}
    if correlation_id:
        extra["X-Correlation-ID"] = correlation_id
    if idempotency_key:
        extra["Idempotency-Key"] = idempotency_key
    return await client.post(
        "/api/v1/bookings",
        json={
            "event_id": event_id,
            "ticket_type_id": ticket_type_id,
            "quantity": quantity,
            "customer_name": customer_name,
            "customer_email": customer_email,
            "payment_token": card,
            **({"offer_id": offer_id} if offer_id else {}),
        },
        headers={**headers, **extra},
    )


async def book(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    event_id: str,
    ticket_type_id: str,
    quantity: int,
    **options: Any,
) -> str:
    """A booking the platform accepted (202 PENDING); its id."""
    accepted = await request_booking(client, headers, event_id, ticket_type_id, quantity, **options)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "PENDING", accepted.json()
    return str(accepted.json()["id"])


async def book_once_back_on_sale(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    event_id: str,
    ticket_type_id: str,
    quantity: int,
    *,
    within: float = 5,
) -> str:
    """Book tickets that were just released: the gateway's sold-out hint may lag by up to
    AVAILABILITY_CACHE_TTL_SECONDS (at most 1 s), so a 409 `sold_out` is retried that long."""
    answer = await eventually(
        lambda: request_booking(client, headers, event_id, ticket_type_id, quantity),
        lambda response: (
            not (response.status_code == 409 and response.json()["error_type"] == "sold_out")
        ),
        within=within,
        what="tickets back on sale",
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def refused_as_sold_out(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    event_id: str,
    ticket_type_id: str,
    quantity: int,
    *,
    within: float = 5,
) -> httpx.Response:
    """A booking for a sold-out ticket type, answered 409 `sold_out` by the gateway.

    The gateway's sold-out hint may lag the read model by AVAILABILITY_CACHE_TTL_SECONDS;
    a request that slips through in that window is accepted and must end REJECTED."""
    slipped_through: list[str] = []

    async def attempt() -> httpx.Response:
        answer = await request_booking(client, headers, event_id, ticket_type_id, quantity)
        if answer.status_code == 202:
            slipped_through.append(str(answer.json()["id"]))
        return answer

    answer = await eventually(
        attempt,
        lambda response: response.status_code == 409,
        within=within,
        what="a sold-out answer",
    )
    for booking_id in slipped_through:
        outcome = await wait_for_status(client, headers, booking_id)
        assert outcome["status"] == "REJECTED", outcome
    return answer


async def booking(
    client: httpx.AsyncClient, headers: Mapping[str, str], booking_id: str
) -> dict[str, Any]:
    response = await client.get(f"/api/v1/bookings/{booking_id}", headers=dict(headers))
    if response.status_code != 200:
        return {"status": f"HTTP {response.status_code}", "body": response.text}
    result: dict[str, Any] = response.json()
    return result


async def wait_for_status(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    booking_id: str,
    statuses: frozenset[str] | set[str] = SETTLED,
    *,
    within: float = 30,
) -> dict[str, Any]:
    return await eventually(
        lambda: booking(client, headers, booking_id),
        lambda found: found.get("status") in statuses,
        within=within,
        what=f"booking {booking_id} in {sorted(statuses)}",
    )


async def availability(client: httpx.AsyncClient, event_id: str) -> dict[str, dict[str, Any]]:
    """Ticket type id -> {quantity, reserved, sold, available, sold_out}, as anyone sees it."""
    response = await client.get(f"/api/v1/events/{event_id}/availability")
    assert response.status_code == 200, response.text
    return {
        str(item["ticket_type_id"]): {key: value for key, value in item.items() if key != "etag"}
        for item in response.json()["ticket_types"]
    }


async def wait_for_availability(
    client: httpx.AsyncClient,
    event_id: str,
    ticket_type_id: str,
    *,
    within: float = 20,
    **expected: int | bool,
) -> dict[str, Any]:
    """Wait until the ticket type's availability shows `expected` (e.g. available=3)."""
    found = await eventually(
        lambda: availability(client, event_id),
        lambda current: all(
            current.get(ticket_type_id, {}).get(key) == value for key, value in expected.items()
        ),
        within=within,
        what=f"availability of {ticket_type_id} with {expected}",
    )
    return found[ticket_type_id]
