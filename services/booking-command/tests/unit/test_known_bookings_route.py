"""POST /internal/v1/bookings/known: the question inventory's unclaimed-hold sweeper asks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from service_kit.internal_auth import GATEWAY, Caller, InternalTokenIssuer, generate_key_pair

from .adapters import internal_api_client
from .fake_inventory import FakeInventory

PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
TOKENS = InternalTokenIssuer.from_text(PRIVATE_KEY, ttl_seconds=3600)
ADMIN = {"Authorization": TOKENS.authorization("booking-command", Caller("admin-1", "admin"))}
USER = {"Authorization": TOKENS.authorization("booking-command", Caller("user-1", "user"))}
GATEWAY_ITSELF = {"Authorization": TOKENS.authorization("booking-command", GATEWAY)}


def service_token(service: str) -> tuple[dict[str, str], str]:
    """`service`'s own token for booking-command, and the public key that checks it."""
    private_key, public_key = generate_key_pair()
    issuer = InternalTokenIssuer.from_text(private_key, issuer=service, ttl_seconds=3600)
    return {"Authorization": issuer.service_authorization("booking-command")}, public_key


INVENTORY, INVENTORY_KEY = service_token("inventory")
# Trusted here only to show the route itself tells services apart.
QUERY_PROJECTION, QUERY_PROJECTION_KEY = service_token("query-projection")
KNOWN = "/internal/v1/bookings/known"


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory()


@pytest.fixture
async def client(inventory: FakeInventory) -> AsyncIterator[httpx.AsyncClient]:
    async with internal_api_client(
        inventory,
        PUBLIC_KEY,
        trusted_service_keys=f"inventory={INVENTORY_KEY},query-projection={QUERY_PROJECTION_KEY}",
    ) as client:
        yield client


async def show_on_sale(client: httpx.AsyncClient) -> tuple[str, str]:
    """(event id, ticket type id) of a published show."""
    venue = await client.post(
        "/internal/v1/venues",
        json={"name": "Hall", "capacity": 100, "address": "1 Road"},
        headers=ADMIN,
    )
    event = await client.post(
        "/internal/v1/events",
        json={
            "venue_id": venue.json()["id"],
            "name": "Show",
            "starts_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            "ticket_types": [{"name": "Stalls", "price": "25.00", "quantity": 50}],
        },
        headers=ADMIN,
    )
    event_id = event.json()["id"]
    await client.post(f"/internal/v1/events/{event_id}/publish", headers=ADMIN)
    return event_id, event.json()["ticket_types"][0]["ticket_type_id"]


async def request_booking(
    client: httpx.AsyncClient, event_id: str, ticket_type_id: str, key: str | None = None
) -> httpx.Response:
    return await client.post(
        "/internal/v1/bookings",
        json={
            "event_id": event_id,
            "ticket_type_id": ticket_type_id,
            "quantity": 2,
            "customer_name": "Ada Lovelace",
            "customer_email": "ada@example.com",
            "payment_token": "tok_visa",
        },
        headers={**USER, **({"Idempotency-Key": key} if key else {})},
    )


async def stored_booking(client: httpx.AsyncClient) -> tuple[str, str]:
    """(booking id, event id) of a PENDING booking."""
    event_id, ticket_type_id = await show_on_sale(client)
    booking = await request_booking(client, event_id, ticket_type_id)
    assert booking.status_code == 202, booking.text
    return booking.json()["id"], event_id


async def test_answers_which_asked_ids_are_stored_bookings(client: httpx.AsyncClient) -> None:
    booking_id, event_id = await stored_booking(client)
    unknown = str(uuid4())
    response = await client.post(
        KNOWN, json={"booking_ids": [unknown, booking_id, event_id]}, headers=INVENTORY
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"known": [booking_id]}, "an event's id is not a booking"


async def test_a_booking_answered_unknown_is_never_stored_after_even_when_its_hold_answers(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event_id, ticket_type_id = await show_on_sale(client)
    # Inventory held the tickets but its answer was lost: nothing stored, the fan told 503.
    inventory.answers_lost = True
    lost = await request_booking(client, event_id, ticket_type_id, key="order-1")
    assert lost.status_code == 503, lost.text
    [[hold]] = inventory.calls
    # The sweeper asks before it releases the unclaimed hold: not stored.
    asked = await client.post(
        KNOWN, json={"booking_ids": [str(hold.booking_id)]}, headers=INVENTORY
    )
    assert asked.json() == {"known": []}

    # The fan's retry reaches booking-command before the sweeper released the hold.
    inventory.answers_lost = False
    retried = await request_booking(client, event_id, ticket_type_id, key="order-1")

    assert retried.status_code == 409, retried.text
    assert retried.json()["error_type"] == "hold_released"
    missing = await client.get(f"/internal/v1/bookings/{hold.booking_id}", headers=USER)
    assert missing.status_code == 404
    asked_again = await client.post(
        KNOWN, json={"booking_ids": [str(hold.booking_id)]}, headers=INVENTORY
    )
    assert asked_again.json() == {"known": []}


async def test_only_inventorys_own_token_may_ask(client: httpx.AsyncClient) -> None:
    body = {"booking_ids": [str(uuid4())]}
    assert (await client.post(KNOWN, json=body, headers=INVENTORY)).status_code == 200
    assert (await client.post(KNOWN, json=body)).status_code == 401
    untrusted, _ = service_token("inventory")
    assert (await client.post(KNOWN, json=body, headers=untrusted)).status_code == 401, (
        "inventory's name on a key booking-command does not hold"
    )
    for who, headers in (
        ("a user", USER),
        ("an admin", ADMIN),
        ("the gateway itself", GATEWAY_ITSELF),
        ("another service", QUERY_PROJECTION),
    ):
        refused = await client.post(KNOWN, json=body, headers=headers)
        assert refused.status_code == 403, who
        assert refused.json()["detail"] == "only inventory's own token may ask which bookings exist"


async def test_inventorys_token_reaches_no_other_route(client: httpx.AsyncClient) -> None:
    booking_id, event_id = await stored_booking(client)
    for method, path in (
        ("GET", f"/internal/v1/bookings/{booking_id}"),
        ("POST", f"/internal/v1/bookings/{booking_id}/cancel"),
        ("POST", f"/internal/v1/events/{event_id}/publish"),
    ):
        response = await client.request(method, path, headers=INVENTORY)
        assert response.status_code == 403, (method, path, response.text)


async def test_a_malformed_question_is_refused(client: httpx.AsyncClient) -> None:
    for body in ({"booking_ids": []}, {"booking_ids": ["nope"]}, {}):
        response = await client.post(KNOWN, json=body, headers=INVENTORY)
        assert response.status_code == 422, body


async def test_openapi_documents_the_route(client: httpx.AsyncClient) -> None:
    route = (await client.get("/openapi.json")).json()["paths"][KNOWN]["post"]
    assert {"200", "401", "403", "422"} <= set(route["responses"])
