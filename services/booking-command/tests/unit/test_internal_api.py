from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import jwt
import pytest

from service_kit.internal_auth import (
    GATEWAY,
    Caller,
    InternalRole,
    InternalTokenIssuer,
    generate_key_pair,
    private_key_from_text,
)

from .adapters import internal_api_client
from .fake_inventory import FakeInventory

PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
# Headers below are minted at import; an hour outlives the longest test run.
TOKENS = InternalTokenIssuer.from_text(PRIVATE_KEY, ttl_seconds=3600)


def signed_in(user_id: str, role: InternalRole = "user") -> dict[str, str]:
    """Headers the gateway sends for a signed-in caller."""
    return {"Authorization": TOKENS.authorization("booking-command", Caller(user_id, role))}


ADMIN = signed_in("admin-1", "admin")
MANAGER = signed_in("manager-1", "manager")
USER = signed_in("user-1")
OTHER_USER = signed_in("user-2")
GATEWAY_HEADERS = {"Authorization": TOKENS.authorization("booking-command", GATEWAY)}


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory(tickets_per_type=50)


@pytest.fixture
async def client(inventory: FakeInventory) -> AsyncIterator[httpx.AsyncClient]:
    async with internal_api_client(inventory, PUBLIC_KEY) as client:
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
        "payment_token": "tok_visa",
        **overrides,
    }


async def test_venue_creation_answers_with_id_version_and_position(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/internal/v1/venues",
        json={"name": " Hall ", "capacity": 10, "address": "x"},
        headers=MANAGER,
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


async def test_a_booking_is_stored_only_once_inventory_holds_its_tickets(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    inventory.tickets_per_type = 3

    held = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)
    too_many = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)
    last = await client.post(
        "/internal/v1/bookings", json=booking_body(event, quantity=1), headers=USER
    )
    sold_out = await client.post(
        "/internal/v1/bookings", json=booking_body(event, quantity=1), headers=USER
    )

    assert held.status_code == 202, held.text
    assert (held.json()["status"], held.json()["payment_status"]) == ("PENDING", "pending")
    assert (too_many.status_code, too_many.json()["error_type"]) == (409, "insufficient_capacity")
    assert last.status_code == 202
    assert (sold_out.status_code, sold_out.json()["error_type"]) == (409, "sold_out")
    asked = [request.booking_id for call in inventory.calls for request in call]
    stored = [
        (await client.get(f"/internal/v1/bookings/{booking_id}", headers=USER)).status_code
        for booking_id in asked
    ]
    assert stored == [200, 404, 200, 404], "a refused booking is not stored"


async def test_bookings_are_answered_503_and_nothing_is_stored_while_inventory_cannot_answer(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    inventory.unavailable = True

    response = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)

    assert response.status_code == 503, response.text
    assert response.json()["error_type"] == "dependency_unavailable"
    assert response.headers["retry-after"] == "7"
    inventory.unavailable = False
    again = await client.post("/internal/v1/bookings", json=booking_body(event), headers=USER)
    assert again.status_code == 202
    # Its Requested follows the catalog's facts: the refused request stored nothing. (The
    # answer names the position of the fact readers see, not the internal PaymentDue after it.)
    assert again.json()["position"] == event["position"] + 1


async def test_a_keyed_retry_asks_inventory_about_the_same_booking(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    ticket_type_id = UUID(event["ticket_types"][0]["ticket_type_id"])
    keyed = {**USER, "Idempotency-Key": "retry-me"}
    inventory.answers_lost = True
    lost = await client.post("/internal/v1/bookings", json=booking_body(event), headers=keyed)
    assert lost.status_code == 503
    inventory.answers_lost = False

    retried = await client.post("/internal/v1/bookings", json=booking_body(event), headers=keyed)
    other_fan = await client.post(
        "/internal/v1/bookings",
        json=booking_body(event),
        headers={**OTHER_USER, "Idempotency-Key": "retry-me"},
    )

    assert retried.status_code == other_fan.status_code == 202
    assert retried.json()["id"] == str(inventory.calls[0][0].booking_id)
    assert inventory.held[ticket_type_id] == 2 + 2, "the retry's hold is the first one's"
    assert retried.json()["id"] != other_fan.json()["id"], "a key is its caller's"


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


VENUE = {"name": "Hall", "capacity": 10, "address": "x"}


async def test_anonymous_catalog_write_is_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.post("/internal/v1/venues", json=VENUE)
    assert response.status_code == 401
    assert response.json()["error_type"] == "unauthorized"


async def test_forged_caller_headers_are_not_believed(client: httpx.AsyncClient) -> None:
    forged = {"X-Caller-ID": "admin-1", "X-Caller-Role": "admin"}
    response = await client.post("/internal/v1/venues", json=VENUE, headers=forged)
    assert response.status_code == 401


async def test_token_signed_with_another_key_is_unauthorized(client: httpx.AsyncClient) -> None:
    other_key, _ = generate_key_pair()
    forged = InternalTokenIssuer.from_text(other_key).token(
        "booking-command", Caller("admin-1", "admin")
    )
    response = await client.post(
        "/internal/v1/venues", json=VENUE, headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


async def test_expired_token_is_unauthorized(client: httpx.AsyncClient) -> None:
    claims = {"iss": "gateway", "aud": "booking-command", "sub": "admin-1", "role": "admin"}
    issued = int(time.time()) - 600
    expired = jwt.encode(
        {**claims, "iat": issued, "exp": issued + 60},
        private_key_from_text(PRIVATE_KEY),
        algorithm="EdDSA",
    )
    response = await client.post(
        "/internal/v1/venues", json=VENUE, headers={"Authorization": f"Bearer {expired}"}
    )
    assert response.status_code == 401


async def test_token_for_another_service_is_unauthorized(client: httpx.AsyncClient) -> None:
    elsewhere = TOKENS.authorization("query-projection", Caller("admin-1", "admin"))
    response = await client.post(
        "/internal/v1/venues", json=VENUE, headers={"Authorization": elsewhere}
    )
    assert response.status_code == 401


async def test_manager_can_create_but_not_delete_a_venue(client: httpx.AsyncClient) -> None:
    created = await client.post("/internal/v1/venues", json=VENUE, headers=MANAGER)
    assert created.status_code == 201, created.text
    venue_id = created.json()["id"]
    refused = await client.delete(f"/internal/v1/venues/{venue_id}", headers=MANAGER)
    assert refused.status_code == 403
    deleted = await client.delete(f"/internal/v1/venues/{venue_id}", headers=ADMIN)
    assert deleted.status_code == 200, deleted.text


async def test_a_users_token_cannot_send_a_batch(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    batch = [batch_request(booking_body(event), "user-3")]
    response = await client.post(
        "/internal/v1/bookings/batch", json={"requests": batch}, headers=ADMIN
    )
    assert response.status_code == 403


async def test_probes_and_metrics_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


async def test_openapi_documents_the_internal_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/internal/v1/venues", "/internal/v1/events", "/internal/v1/bookings"} <= set(paths)
    assert "409" in paths["/internal/v1/bookings"]["post"]["responses"]


def batch_request(
    command: dict[str, Any], caller: str = "user-1", key: str | None = None
) -> dict[str, Any]:
    return {
        "caller_id": caller,
        "caller_role": "user",
        "idempotency_key": key,
        "correlation_id": f"corr-{caller}-{key}",
        "command": command,
    }


async def test_batch_answers_each_request_as_the_single_route_would(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)
    closed = await event_on_sale(client)
    await client.post(f"/internal/v1/events/{closed['id']}/cancel", json={}, headers=ADMIN)
    replayed = await client.post(
        "/internal/v1/bookings",
        json=booking_body(event),
        headers={**USER, "Idempotency-Key": "replay-1"},
    )
    await client.post(
        "/internal/v1/bookings",
        json=booking_body(event),
        headers={**OTHER_USER, "Idempotency-Key": "used-1"},
    )
    unknown = booking_body(event, event_id="00000000-0000-4000-8000-000000000000")
    batch = [
        batch_request(booking_body(event), "user-3", "fresh-1"),
        batch_request(booking_body(closed), "user-4"),
        batch_request(booking_body(event), "user-1", "replay-1"),
        batch_request(booking_body(event, quantity=3), "user-2", "used-1"),
        batch_request(unknown, "user-5"),
        batch_request(booking_body(event, quantity=1), "user-6"),
    ]

    response = await client.post(
        "/internal/v1/bookings/batch", json={"requests": batch}, headers=GATEWAY_HEADERS
    )

    assert response.status_code == 200, response.text
    outcomes = response.json()["outcomes"]
    assert [(o["status_code"], o["body"].get("error_type")) for o in outcomes] == [
        (202, None),
        (409, "event_cancelled"),
        (202, None),
        (422, "idempotency_key_mismatch"),
        (404, "not_found"),
        (202, None),
    ]
    assert outcomes[2]["body"] == replayed.json()
    for outcome, owner in ((outcomes[0], "user-3"), (outcomes[5], "user-6")):
        booking = outcome["body"]
        assert (booking["status"], booking["owner_id"]) == ("PENDING", owner)
        stored = await client.get(
            f"/internal/v1/bookings/{booking['id']}", headers=signed_in(owner)
        )
        assert stored.status_code == 200
        assert stored.json()["position"] == booking["position"]


async def test_batch_item_key_replays_through_the_single_route(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)
    batch = [batch_request(booking_body(event), "user-1", "both-routes")]
    first = await client.post(
        "/internal/v1/bookings/batch", json={"requests": batch}, headers=GATEWAY_HEADERS
    )
    again = await client.post(
        "/internal/v1/bookings",
        json=booking_body(event),
        headers={**USER, "Idempotency-Key": "both-routes"},
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()["outcomes"][0]["body"]


async def test_batch_with_one_key_twice_stores_one_booking(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    batch = [batch_request(booking_body(event), "user-1", "twice")] * 2
    response = await client.post(
        "/internal/v1/bookings/batch", json={"requests": batch}, headers=GATEWAY_HEADERS
    )
    first, second = response.json()["outcomes"]
    assert first["status_code"] == second["status_code"] == 202
    assert first["body"] == second["body"]


async def test_invalid_batch_is_rejected_whole(client: httpx.AsyncClient) -> None:
    event = await event_on_sale(client)
    batch = [batch_request(booking_body(event)), batch_request(booking_body(event, quantity=0))]
    response = await client.post(
        "/internal/v1/bookings/batch", json={"requests": batch}, headers=GATEWAY_HEADERS
    )
    assert (response.status_code, response.json()["error_type"]) == (422, "validation_error")
    empty = await client.post(
        "/internal/v1/bookings/batch", json={"requests": []}, headers=GATEWAY_HEADERS
    )
    assert empty.status_code == 422


async def test_openapi_documents_the_batch_route(client: httpx.AsyncClient) -> None:
    route = (await client.get("/openapi.json")).json()["paths"]["/internal/v1/bookings/batch"]
    assert {"200", "422"} <= set(route["post"]["responses"])
    assert "RequestBookingBatch" in json.dumps(route["post"]["requestBody"])


async def test_a_batch_asks_inventory_once_and_answers_sold_out_for_what_it_refuses(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    inventory.tickets_per_type = 5
    batch = [batch_request(booking_body(event, quantity=1), f"user-{n}") for n in range(8)]

    response = await client.post(
        "/internal/v1/bookings/batch", json={"requests": batch}, headers=GATEWAY_HEADERS
    )

    statuses = [outcome["status_code"] for outcome in response.json()["outcomes"]]
    assert statuses == [202] * 5 + [409] * 3
    assert len(inventory.calls) == 1
