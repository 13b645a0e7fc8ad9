"""The public API through the gateway with all four services running as real processes."""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import register_fan
from .stack_helpers import admin_headers, wait_until_ready

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def a_venue(name: str = "Royal Albert Hall") -> dict[str, object]:
    return {"name": name, "capacity": 5000, "address": "Kensington Gore, London"}


async def test_read_your_writes_on_venue_create_update_delete(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    created = await client.post("/api/v1/venues", json=a_venue(), headers=admin)
    assert created.status_code == 201, created.text
    venue_id = created.json()["id"]

    read = await client.get(f"/api/v1/venues/{venue_id}", headers=admin)
    assert read.status_code == 200, read.text
    assert read.json()["name"] == "Royal Albert Hall"

    updated = await client.put(
        f"/api/v1/venues/{venue_id}", json=a_venue("Royal Festival Hall"), headers=admin
    )
    assert updated.status_code == 200, updated.text
    read = await client.get(f"/api/v1/venues/{venue_id}", headers=admin)
    assert read.json()["name"] == "Royal Festival Hall"

    etag = read.headers["ETag"]
    unchanged = await client.get(
        f"/api/v1/venues/{venue_id}", headers={**admin, "If-None-Match": etag}
    )
    assert unchanged.status_code == 304

    deleted = await client.delete(f"/api/v1/venues/{venue_id}", headers=admin)
    assert deleted.status_code == 204, deleted.text
    gone = await client.get(f"/api/v1/venues/{venue_id}", headers=admin)
    assert gone.status_code == 404


async def test_a_full_booking_from_register_to_confirmed(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    venue = await client.post("/api/v1/venues", json=a_venue("Jazz Cellar"), headers=admin)
    assert venue.status_code == 201, venue.text
    starts_at = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    event = await client.post(
        "/api/v1/events",
        json={
            "venue_id": venue.json()["id"],
            "name": "Late Show",
            "starts_at": starts_at,
            "ticket_types": [{"name": "Standing", "price": "25.00", "quantity": 50}],
        },
        headers=admin,
    )
    assert event.status_code == 201, event.text
    event_id = event.json()["id"]
    published = await client.post(f"/api/v1/events/{event_id}/publish", headers=admin)
    assert published.status_code == 200, published.text
    ticket_type_id = (await client.get(f"/api/v1/events/{event_id}", headers=admin)).json()[
        "ticket_types"
    ][0]["ticket_type_id"]

    user = (await register_fan(client)).headers
    key = uuid.uuid4().hex
    booking_body = {
        "event_id": event_id,
        "ticket_type_id": ticket_type_id,
        "quantity": 2,
        "customer_name": "Sam Fan",
        "customer_email": "sam@example.com",
        "payment_token": "tok_visa",
    }
    accepted = await client.post(
        "/api/v1/bookings", json=booking_body, headers={**user, "Idempotency-Key": key}
    )
    assert accepted.status_code == 202, accepted.text
    booking_id = accepted.json()["id"]
    assert accepted.headers["Location"] == f"/api/v1/bookings/{booking_id}"
    replay = await client.post(
        "/api/v1/bookings", json=booking_body, headers={**user, "Idempotency-Key": key}
    )
    assert replay.json()["id"] == booking_id

    statuses: list[str] = []
    async with client.stream(
        "GET", f"/api/v1/bookings/{booking_id}/events", headers=user, timeout=90
    ) as stream:
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                statuses.append(json.loads(line.removeprefix("data:"))["status"])
    assert statuses[-1] == "CONFIRMED", statuses

    final = await client.get(f"/api/v1/bookings/{booking_id}", headers=user)
    assert final.json()["status"] == "CONFIRMED"
    other = (await register_fan(client)).headers
    assert (await client.get(f"/api/v1/bookings/{booking_id}", headers=other)).status_code == 404
    mine = await client.get("/api/v1/bookings", headers=user)
    assert [item["id"] for item in mine.json()["items"]] == [booking_id]


async def test_roles_are_enforced_end_to_end(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    user = (await register_fan(client)).headers
    assert (await client.post("/api/v1/venues", json=a_venue(), headers=user)).status_code == 403
    assert (await client.post("/api/v1/venues", json=a_venue())).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0."}
    assert (await client.post("/api/v1/venues", json=a_venue(), headers=forged)).status_code == 401


async def test_the_breaker_opens_while_a_service_is_down_and_closes_after_it_returns(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    await running_stack.kill_service("query-projection")
    try:
        answers = []
        for _ in range(5):
            answers.append(await client.get("/api/v1/venues"))
        assert all(answer.status_code == 503 for answer in answers)
        started = time.perf_counter()
        fast = await client.get("/api/v1/venues")
        assert time.perf_counter() - started < 0.5
        assert fast.status_code == 503
        assert "circuit open" in fast.json()["detail"]
        assert int(fast.headers["Retry-After"]) >= 1
        metrics = (await client.get("/metrics")).text
        assert 'circuit_breaker_state{name="query-projection"} 2.0' in metrics
        ready = (await client.get("/health/ready")).json()
        assert ready["checks"]["query-projection"]["status"] == "down"
    finally:
        await running_stack.start_service("query-projection")

    deadline = time.monotonic() + 60
    while True:
        response = await client.get("/api/v1/venues")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert response.status_code == 200, response.text
    metrics = (await client.get("/metrics")).text
    assert 'circuit_breaker_state{name="query-projection"} 0.0' in metrics
    assert (await wait_until_ready(running_stack.url("query-projection"))).status_code == 200
