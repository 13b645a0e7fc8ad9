from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from booking_command.adapters.event_store import in_memory_environment
from booking_command.bootstrap import build_app
from booking_command.settings import BookingCommandSettings

ADMIN = {"X-Caller-ID": "admin-1", "X-Caller-Role": "admin"}
USER = {"X-Caller-ID": "user-1", "X-Caller-Role": "user"}
OTHER_USER = {"X-Caller-ID": "user-2", "X-Caller-Role": "user"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = BookingCommandSettings(environment="test", hold_expiry_interval_seconds=60)
    app = build_app(settings, event_store_env=in_memory_environment(), with_kafka=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def event_on_sale(client: httpx.AsyncClient) -> dict[str, Any]:
    venue = await client.post(
        "/internal/v1/venues",
        json={"name": "Hall", "capacity": 100, "address": "1 Road"},
        headers=ADMIN,
    )
    assert venue.status_code == 201, venue.text
    starts_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    event = await client.post(
        "/internal/v1/events",
        json={
            "venue_id": venue.json()["id"],
            "name": "Show",
            "starts_at": starts_at,
            "ticket_types": [{"name": "Stalls", "price": "25.00", "quantity": 50}],
        },
        headers=ADMIN,
    )
    assert event.status_code == 201, event.text
    published = await client.post(
        f"/internal/v1/events/{event.json()['id']}/publish", headers=ADMIN
    )
    assert published.status_code == 200, published.text
    return published.json()


def booking_body(event: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": event["id"],
        "ticket_type_id": event["ticket_types"][0]["ticket_type_id"],
        "quantity": 2,
        "customer_name": "Ada Lovelace",
        "customer_email": "ADA@example.com",
        **overrides,
    }


async def test_venue_creation_answers_with_id_version_and_position(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/internal/v1/venues", json={"name": " Hall ", "capacity": 10, "address": "x"}
    )
    body = response.json()
    assert response.status_code == 201
    assert (body["name"], body["version"], body["position"]) == ("Hall", 1, 1)


async def test_booking_request_is_accepted_with_location(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    response = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)
    body = response.json()
    assert response.status_code == 202
    assert response.headers["location"] == f"/internal/v1/bookings/{body['id']}"
    assert (body["status"], body["total_price"], body["currency"]) == ("PENDING", "50.00", "EUR")
    assert body["customer_email"] == "ada@example.com"
    assert body["hold_expires_at"]


async def test_booking_request_without_caller_is_unauthorized(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    response = await client.post("/internal/v1/bookings", json=booking_body(event))
    assert response.status_code == 401


async def test_client_cannot_set_the_price(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    response = await client.post(
        "/internal/v1/bookings", json=booking_body(event, total_price="0.01"), headers=USER
    )
    assert response.status_code == 422


async def test_booking_for_unknown_event_is_not_found(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    body = booking_body(event, event_id="00000000-0000-4000-8000-000000000000")
    response = await client.post("/internal/v1/bookings", json=body, headers=USER)
    assert response.status_code == 404


async def test_booking_for_cancelled_event_is_a_conflict(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    await client.post(f"/internal/v1/events/{event['id']}/cancel", json={}, headers=ADMIN)
    response = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)
    assert (response.status_code, response.json()["error_type"]) == (409, "event_cancelled")


async def test_replayed_idempotency_key_returns_the_original_booking(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)
    headers = {**USER, "Idempotency-Key": "abc-123"}
    first = await client.post("/internal/v1/bookings", json=booking_body(event), headers=headers)
    second = await client.post("/internal/v1/bookings", json=booking_body(event), headers=headers)
    assert second.status_code == 202
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"


async def test_idempotency_key_reused_with_another_body_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)
    headers = {**USER, "Idempotency-Key": "abc-123"}
    await client.post("/internal/v1/bookings", json=booking_body(event), headers=headers)
    response = await client.post(
        "/internal/v1/bookings", json=booking_body(event, quantity=3), headers=headers
    )
    assert (response.status_code, response.json()["error_type"]) == (
        422,
        "idempotency_key_mismatch",
    )


async def test_someone_else_cannot_cancel_a_booking(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    booking = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)
    response = await client.post(
        f"/internal/v1/bookings/{booking.json()['id']}/cancel", headers=OTHER_USER
    )
    assert response.status_code == 404


async def test_cancelling_a_pending_booking_is_a_conflict(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    booking = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)
    response = await client.post(
        f"/internal/v1/bookings/{booking.json()['id']}/cancel", headers=USER
    )
    assert response.status_code == 409


async def test_user_role_cannot_change_the_catalog(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/internal/v1/venues", json={"name": "Hall", "capacity": 10, "address": "x"}, headers=USER
    )
    assert response.status_code == 403


async def test_openapi_documents_the_internal_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/internal/v1/venues", "/internal/v1/events", "/internal/v1/bookings"} <= set(paths)
    assert "409" in paths["/internal/v1/bookings"]["post"]["responses"]
