"""POST /internal/v1/holds over fake storage: credentials, validation, answers, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from inventory.application.errors import CatalogNotCaughtUp
from inventory.application.hold_tickets import HoldTickets
from inventory.domain.sale import SaleTerms
from inventory.domain.stock import ShowInventory, ShowStatus, TicketStock
from inventory.entrypoints.http import holds
from inventory.settings import InventorySettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.circuit_breakers import create_breaker
from service_kit.internal_auth import GATEWAY, Caller, InternalTokenIssuer, generate_key_pair

from .fakes import FakeStore, FakeUnitOfWork

PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
TOKENS = InternalTokenIssuer.from_text(PRIVATE_KEY, ttl_seconds=3600)
USER = {"Authorization": TOKENS.authorization("inventory", Caller("user-1", "user"))}
ADMIN = {"Authorization": TOKENS.authorization("inventory", Caller("admin-1", "admin"))}
GATEWAY_ITSELF = {"Authorization": TOKENS.authorization("inventory", GATEWAY)}


def service_token(service: str) -> tuple[dict[str, str], str]:
    """`service`'s own token for inventory, and the public key that checks it."""
    private_key, public_key = generate_key_pair()
    issuer = InternalTokenIssuer.from_text(private_key, issuer=service, ttl_seconds=3600)
    return {"Authorization": issuer.service_authorization("inventory")}, public_key


SERVICE, BOOKING_COMMAND_KEY = service_token("booking-command")
# Trusted here only to show the route itself tells services apart.
QUERY_PROJECTION, QUERY_PROJECTION_KEY = service_token("query-projection")
EVENT = UUID(int=1)
TICKETS = UUID(int=2)


class SlowCatalog:
    async def wait_until_caught_up(self) -> None:
        raise CatalogNotCaughtUp("the catalog reader is behind")


@pytest.fixture
def store() -> FakeStore:
    show = ShowInventory(EVENT, ShowStatus.ON_SALE, {TICKETS: TicketStock(TICKETS, 3)}, 1)
    return FakeStore(shows={EVENT: show})


@pytest.fixture
async def client(store: FakeStore) -> AsyncIterator[httpx.AsyncClient]:
    settings = InventorySettings(
        environment="test",
        internal_token_public_key=PUBLIC_KEY,
        trusted_service_keys=(
            f"booking-command={BOOKING_COMMAND_KEY},query-projection={QUERY_PROJECTION_KEY}"
        ),
    )
    hold_tickets = HoldTickets(
        lambda: FakeUnitOfWork(store),
        SlowCatalog(),
        hold_for=timedelta(minutes=2),
        claim_within=timedelta(seconds=30),
        outcome_topic="inventory-outcomes",
        producer="inventory",
    )
    breaker = create_breaker("postgres-test", fail_max=5, reset_timeout_seconds=1)
    app = create_service_app(
        settings,
        title="inventory",
        description="test",
        health=health_registry_for(settings),
        service_routers=[holds.holds_router(lambda: hold_tickets, breaker, max_batch=3)],
        openapi_tags=[{"name": holds.TAG, "description": holds.TAG_DESCRIPTION}],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def hold(quantity: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "booking_id": str(uuid4()),
        "event_id": str(EVENT),
        "ticket_type_id": str(TICKETS),
        "quantity": quantity,
        "owner_id": "fan-1",
        **overrides,
    }


async def test_holds_and_refusals_are_answered_in_request_order(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    batch = [hold(2), hold(2), hold(1)]
    response = await client.post("/internal/v1/holds", json={"holds": batch}, headers=SERVICE)
    assert response.status_code == 200, response.text
    answers = response.json()["answers"]
    assert [a["booking_id"] for a in answers] == [h["booking_id"] for h in batch]
    assert [a["outcome"] for a in answers] == ["held", "refused", "held"]
    assert answers[0]["hold_expires_at"] is not None
    assert answers[1]["reason"] == "not_enough_tickets"
    assert store.shows[EVENT].ticket_types[TICKETS].reserved == 3


async def test_without_booking_commands_own_token_nothing_is_held(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    body = {"holds": [hold()]}
    assert (await client.post("/internal/v1/holds", json=body)).status_code == 401
    forged = {"Authorization": "Bearer " + SERVICE["Authorization"].split()[1][:-4] + "AAAA"}
    assert (await client.post("/internal/v1/holds", json=body, headers=forged)).status_code == 401
    untrusted, _ = service_token("booking-command")
    refused = await client.post("/internal/v1/holds", json=body, headers=untrusted)
    assert refused.status_code == 401, "booking-command's name on a key inventory does not hold"
    for who, headers in (
        ("a user", USER),
        ("an admin", ADMIN),
        ("the gateway itself", GATEWAY_ITSELF),
        ("another service", QUERY_PROJECTION),
    ):
        refused = await client.post("/internal/v1/holds", json=body, headers=headers)
        assert refused.status_code == 403, who
        assert refused.json()["detail"] == "only booking-command's own token may hold tickets"
    assert store.commits == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"holds": []}, "body.holds"),
        ({"holds": [hold(0)]}, "body.holds.0.quantity"),
        ({"holds": [hold(11)]}, "body.holds.0.quantity"),
        ({"holds": [hold(event_id="not-a-uuid")]}, "body.holds.0.event_id"),
        ({"holds": [hold(note="extra")]}, "body.holds.0.note"),
    ],
)
async def test_invalid_batches_are_refused_with_the_field_named(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/internal/v1/holds", json=body, headers=SERVICE)
    assert response.status_code == 422
    assert response.json()["error_type"] == "validation_error"
    assert field in {problem["field"] for problem in response.json()["errors"]}


async def test_a_booking_id_twice_in_one_batch_is_refused(client: httpx.AsyncClient) -> None:
    twice = hold()
    response = await client.post(
        "/internal/v1/holds", json={"holds": [twice, twice]}, headers=SERVICE
    )
    assert response.status_code == 422
    assert "once in a batch" in response.json()["detail"]


async def test_a_batch_larger_than_the_setting_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/internal/v1/holds", json={"holds": [hold() for _ in range(4)]}, headers=SERVICE
    )
    assert response.status_code == 422
    assert response.json()["error_type"] == "batch_too_large"


async def test_a_catalog_that_cannot_catch_up_is_a_503_not_a_refusal(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    response = await client.post(
        "/internal/v1/holds", json={"holds": [hold(event_id=str(uuid4()))]}, headers=SERVICE
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert store.bookings == {}


async def test_openapi_documents_the_route_its_errors_and_the_sweeper(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    route = document["paths"]["/internal/v1/holds"]["post"]
    assert {"200", "401", "403", "422", "503"} <= set(route["responses"])
    assert "hold_released" in route["description"]
    [tag] = [tag for tag in document["tags"] if tag["name"] == "holds"]
    assert "sweeper" in tag["description"]


async def test_a_refusal_outside_the_sale_window_says_when_the_sale_opens_and_ends(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    opens = datetime.now(UTC) + timedelta(hours=1)
    store.shows[EVENT].sale = SaleTerms(starts_at=opens)

    response = await client.post("/internal/v1/holds", json={"holds": [hold()]}, headers=SERVICE)

    [answer] = response.json()["answers"]
    assert answer["reason"] == "not_on_sale"
    assert datetime.fromisoformat(answer["sale_starts_at"]) == opens
    assert answer["sale_ends_at"] is None
    assert store.shows[EVENT].ticket_types[TICKETS].reserved == 0


async def test_a_refusal_over_the_purchase_limit_says_which_limit_and_what_the_account_has(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    store.shows[EVENT].ticket_types[TICKETS].sale = SaleTerms(max_tickets_per_account=2)
    first = await client.post(
        "/internal/v1/holds", json={"holds": [hold(2, owner_id="fan-9")]}, headers=SERVICE
    )
    assert first.json()["answers"][0]["outcome"] == "held"

    second = await client.post(
        "/internal/v1/holds",
        json={"holds": [hold(1, owner_id="fan-9"), hold(1, owner_id="fan-10")]},
        headers=SERVICE,
    )

    over, other_fan = second.json()["answers"]
    assert over == {
        "booking_id": over["booking_id"],
        "outcome": "refused",
        "reason": "purchase_limit_reached",
        "sale_starts_at": None,
        "sale_ends_at": None,
        "limit_scope": "ticket_type",
        "max_tickets_per_account": 2,
        "tickets_held_or_bought": 2,
    }
    assert other_fan["outcome"] == "held"
