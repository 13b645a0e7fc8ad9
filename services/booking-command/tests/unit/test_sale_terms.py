"""Sale windows and purchase limits on the write side: managers set and edit them, the
catalog facts carry them, and inventory's refusals reach the fan with their reasons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from booking_command.adapters.public_events import to_public_event
from booking_command.domain.catalog_event import Event, SaleTerms, TicketTypeSpec
from service_kit.errors import ConflictError, InvalidInputError, NotFoundError
from service_kit.internal_auth import GATEWAY, Caller, InternalTokenIssuer, generate_key_pair
from ticketing_contracts.events import EventCreated, EventSaleChanged, TicketTypeSaleChanged

from .adapters import internal_api_client
from .fake_inventory import FakeInventory

PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
TOKENS = InternalTokenIssuer.from_text(PRIVATE_KEY, ttl_seconds=3600)
MANAGER = {"Authorization": TOKENS.authorization("booking-command", Caller("manager-1", "manager"))}
USER = {"Authorization": TOKENS.authorization("booking-command", Caller("user-1", "user"))}
NOW = datetime(2030, 1, 1, tzinfo=UTC)
OPENS = NOW + timedelta(days=1)
CLOSES = NOW + timedelta(days=5)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def schedule(sale: SaleTerms = SaleTerms(), *specs: TicketTypeSpec) -> Event:
    return Event.schedule(
        venue_id=uuid4(),
        venue_capacity=1000,
        name="Show",
        description="",
        starts_at=NOW + timedelta(days=10),
        ticket_types=list(specs) or [TicketTypeSpec("Stalls", Decimal("10"), "EUR", 100)],
        now=NOW,
        sale=sale,
    )


def test_a_ticket_type_inherits_each_bound_of_the_events_window_it_does_not_set() -> None:
    presale = TicketTypeSpec(
        "Presale", Decimal("10"), "EUR", 10, SaleTerms(starts_at=NOW, max_tickets_per_account=2)
    )
    show = schedule(SaleTerms(OPENS, CLOSES, 6), presale)

    [ticket_type] = show.ticket_types
    assert ticket_type.sale.window_within(show.sale) == (NOW, CLOSES)
    assert show.sale == SaleTerms(OPENS, CLOSES, 6)


@pytest.mark.parametrize(
    ("event", "ticket_type"),
    [
        (SaleTerms(OPENS, OPENS), SaleTerms()),
        (SaleTerms(ends_at=OPENS), SaleTerms(starts_at=CLOSES)),
        (SaleTerms(), SaleTerms(CLOSES, OPENS)),
        (SaleTerms(max_tickets_per_account=0), SaleTerms()),
    ],
)
def test_a_sale_that_would_end_before_it_starts_or_a_limit_below_one_is_refused(
    event: SaleTerms, ticket_type: SaleTerms
) -> None:
    with pytest.raises(InvalidInputError):
        schedule(event, TicketTypeSpec("Stalls", Decimal("10"), "EUR", 10, ticket_type))


def test_changing_the_events_window_is_checked_against_every_ticket_types_own_bound() -> None:
    late_type = TicketTypeSpec("Late", Decimal("10"), "EUR", 10, SaleTerms(starts_at=CLOSES))
    show = schedule(SaleTerms(), late_type)

    with pytest.raises(InvalidInputError, match="'Late'"):
        show.change_sale(SaleTerms(ends_at=OPENS))
    show.change_sale(SaleTerms(ends_at=CLOSES + timedelta(days=1), max_tickets_per_account=4))

    assert show.sale == SaleTerms(None, CLOSES + timedelta(days=1), 4)


def test_a_ticket_types_sale_is_changed_on_its_own_and_an_unknown_one_is_not_found() -> None:
    show = schedule(SaleTerms(OPENS, CLOSES))
    [ticket_type] = show.ticket_types

    changed = show.change_ticket_type_sale(
        ticket_type.ticket_type_id, SaleTerms(starts_at=NOW, max_tickets_per_account=3)
    )

    assert changed.sale.window_within(show.sale) == (NOW, CLOSES)
    assert show.ticket_types[0].sale == SaleTerms(NOW, None, 3)
    with pytest.raises(NotFoundError):
        show.change_ticket_type_sale(uuid4(), SaleTerms())
    show.cancel(reason="")
    with pytest.raises(ConflictError):
        show.change_sale(SaleTerms())


def test_the_catalog_facts_carry_the_sale_terms() -> None:
    show = schedule(
        SaleTerms(OPENS, None, 4),
        TicketTypeSpec("Stalls", Decimal("10"), "EUR", 10, SaleTerms(max_tickets_per_account=2)),
    )
    [ticket_type] = show.ticket_types
    show.change_sale(SaleTerms(OPENS, CLOSES, 6))
    show.change_ticket_type_sale(ticket_type.ticket_type_id, SaleTerms(starts_at=NOW))

    created, event_sale, type_sale = (to_public_event(e) for e in show.collect_events())

    assert isinstance(created, EventCreated)
    assert (created.sale_starts_at, created.sale_ends_at, created.max_tickets_per_account) == (
        OPENS,
        None,
        4,
    )
    assert created.ticket_types[0].max_tickets_per_account == 2
    assert event_sale == EventSaleChanged(
        event_id=show.id, sale_starts_at=OPENS, sale_ends_at=CLOSES, max_tickets_per_account=6
    )
    assert type_sale == TicketTypeSaleChanged(
        event_id=show.id,
        ticket_type_id=ticket_type.ticket_type_id,
        sale_starts_at=NOW,
        sale_ends_at=None,
        max_tickets_per_account=None,
    )


def test_an_event_stored_before_sale_terms_has_none() -> None:
    state: dict[str, Any] = {}
    Event.Created.upcast_v1_v2(state)
    snapshot: dict[str, Any] = {}
    Event.upcast_v1_v2(snapshot)
    expected = {"sale_starts_at": None, "sale_ends_at": None, "max_tickets_per_account": None}
    assert state == snapshot == expected


# --- over the internal API ----------------------------------------------------------


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory(tickets_per_type=50)


@pytest.fixture
async def client(inventory: FakeInventory) -> AsyncIterator[httpx.AsyncClient]:
    async with internal_api_client(inventory, PUBLIC_KEY) as client:
        yield client


async def event_with_sale(client: httpx.AsyncClient) -> dict[str, Any]:
    venue = await client.post(
        "/internal/v1/venues",
        json={"name": "Hall", "capacity": 100, "address": "1 Road"},
        headers=MANAGER,
    )
    opens = datetime.now(UTC) + timedelta(days=1)
    event = await client.post(
        "/internal/v1/events",
        json={
            "venue_id": venue.json()["id"],
            "name": "Show",
            "starts_at": iso(opens + timedelta(days=6)),
            "sale_starts_at": iso(opens),
            "max_tickets_per_account": 4,
            "ticket_types": [
                {"name": "Stalls", "price": "25.00", "quantity": 50},
                {
                    "name": "Presale",
                    "price": "30.00",
                    "quantity": 10,
                    "sale_starts_at": iso(opens - timedelta(hours=12)),
                    "max_tickets_per_account": 2,
                },
            ],
        },
        headers=MANAGER,
    )
    assert event.status_code == 201, event.text
    published = await client.post(
        f"/internal/v1/events/{event.json()['id']}/publish", headers=MANAGER
    )
    assert published.status_code == 200, published.text
    body: dict[str, Any] = published.json()
    return body


async def test_an_event_shows_its_window_and_each_ticket_types_effective_one(
    client: httpx.AsyncClient,
) -> None:
    event = await event_with_sale(client)
    stalls, presale = event["ticket_types"]
    opens = datetime.fromisoformat(event["sale_starts_at"])

    assert (event["sale_ends_at"], event["max_tickets_per_account"]) == (None, 4)
    assert datetime.fromisoformat(stalls["sale_starts_at"]) == opens
    assert stalls["sale_window_override"] == {"sale_starts_at": None, "sale_ends_at": None}
    assert stalls["max_tickets_per_account"] is None
    assert datetime.fromisoformat(presale["sale_starts_at"]) == opens - timedelta(hours=12)
    assert presale["sale_window_override"]["sale_starts_at"] == presale["sale_starts_at"]
    assert presale["max_tickets_per_account"] == 2


async def test_managers_edit_the_events_and_a_ticket_types_sale_later(
    client: httpx.AsyncClient,
) -> None:
    event = await event_with_sale(client)
    stalls = event["ticket_types"][0]
    ends = datetime.now(UTC) + timedelta(days=3)

    changed = await client.put(
        f"/internal/v1/events/{event['id']}/sale",
        json={"sale_starts_at": None, "sale_ends_at": iso(ends), "max_tickets_per_account": 6},
        headers=MANAGER,
    )
    type_changed = await client.put(
        f"/internal/v1/events/{event['id']}/ticket-types/{stalls['ticket_type_id']}/sale",
        json={"max_tickets_per_account": 1},
        headers=MANAGER,
    )

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["sale_starts_at"], body["max_tickets_per_account"]) == (None, 6)
    assert datetime.fromisoformat(body["sale_ends_at"]) == ends
    assert body["version"] == event["version"] + 1
    assert type_changed.status_code == 200, type_changed.text
    new_stalls = type_changed.json()["ticket_types"][0]
    assert new_stalls["max_tickets_per_account"] == 1
    assert datetime.fromisoformat(new_stalls["sale_ends_at"]) == ends, "the event's end"


async def test_sale_edits_that_make_no_sense_are_refused_with_what_is_wrong(
    client: httpx.AsyncClient,
) -> None:
    event = await event_with_sale(client)
    presale = event["ticket_types"][1]
    sale = f"/internal/v1/events/{event['id']}/sale"

    backwards = await client.put(
        sale,
        json={"sale_starts_at": "2030-05-02T00:00:00Z", "sale_ends_at": "2030-05-01T00:00:00Z"},
        headers=MANAGER,
    )
    before_presale = await client.put(
        sale, json={"sale_ends_at": presale["sale_starts_at"]}, headers=MANAGER
    )
    unknown_type = await client.put(
        f"/internal/v1/events/{event['id']}/ticket-types/{uuid4()}/sale", json={}, headers=MANAGER
    )
    by_a_fan = await client.put(sale, json={}, headers=USER)

    assert backwards.status_code == 422
    assert "sale_ends_at must be after sale_starts_at" in backwards.json()["detail"]
    assert before_presale.status_code == 422
    assert "'Presale'" in before_presale.json()["detail"]
    assert unknown_type.status_code == 404
    assert by_a_fan.status_code == 403


def booking(event: dict[str, Any], quantity: int = 2) -> dict[str, Any]:
    return {
        "event_id": event["id"],
        "ticket_type_id": event["ticket_types"][0]["ticket_type_id"],
        "quantity": quantity,
        "customer_name": "Ada Lovelace",
        "customer_email": "ada@example.com",
        "payment_token": "tok_visa",
    }


async def test_a_booking_outside_the_window_is_409_not_on_sale_with_inventorys_window(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_with_sale(client)
    window = {"sale_starts_at": "2030-05-01T10:00:00Z", "sale_ends_at": None}
    inventory.refusal = ("not_on_sale", window)

    single = await client.post("/internal/v1/bookings", json=booking(event), headers=USER)
    gateway = {"Authorization": TOKENS.authorization("booking-command", GATEWAY)}
    batch = await client.post(
        "/internal/v1/bookings/batch",
        json={
            "requests": [
                {"caller_id": f"user-{n}", "caller_role": "user", "command": booking(event)}
                for n in range(2)
            ]
        },
        headers=gateway,
    )

    assert single.status_code == 409
    assert single.json() == {
        "detail": "the ticket type is not on sale now (see sale_starts_at and sale_ends_at)",
        "error_type": "not_on_sale",
        **window,
    }
    assert [outcome["body"] for outcome in batch.json()["outcomes"]] == [single.json()] * 2
    assert [request.owner_id for call in inventory.calls for request in call] == [
        "user-1",
        "user-0",
        "user-1",
    ], "each hold names the booking's owner"


async def test_a_booking_over_the_limit_is_409_purchase_limit_reached_with_the_counts(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_with_sale(client)
    inventory.refusal = (
        "purchase_limit_reached",
        {"limit_scope": "event", "max_tickets_per_account": 4, "tickets_held_or_bought": 3},
    )

    response = await client.post("/internal/v1/bookings", json=booking(event), headers=USER)

    assert response.status_code == 409
    assert response.json() == {
        "detail": "this booking would take the account past the event's limit of 4 tickets "
        "per account (3 already held or bought)",
        "error_type": "purchase_limit_reached",
        "limit_scope": "event",
        "max_tickets_per_account": 4,
        "tickets_held_or_bought": 3,
    }
    stored = await client.get(
        f"/internal/v1/bookings/{inventory.calls[0][0].booking_id}", headers=USER
    )
    assert stored.status_code == 404, "a refused booking is not stored"
