"""Organisers edit ticket types while they sell: rename, reprice (later bookings only),
raise or lower the quantity (a lower one agreed with inventory first), close and reopen
sales, remove a type nothing was taken of; the event's hold and offer windows; a booking
that takes up a waitlist offer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from booking_command.adapters.public_events import to_public_event
from booking_command.domain.catalog_event import Event, SaleTerms, TicketTypeSpec
from service_kit.errors import ConflictError, InvalidInputError, NotFoundError
from service_kit.internal_auth import Caller, InternalTokenIssuer, generate_key_pair
from ticketing_contracts.events import EventSaleChanged
from ticketing_contracts.events.catalog import TicketTypeChanged, TicketTypeRemoved

from .adapters import internal_api_client
from .fake_inventory import FakeInventory

PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
TOKENS = InternalTokenIssuer.from_text(PRIVATE_KEY, ttl_seconds=3600)
MANAGER = {"Authorization": TOKENS.authorization("booking-command", Caller("manager-1", "manager"))}
ADMIN = {"Authorization": TOKENS.authorization("booking-command", Caller("admin-1", "admin"))}
FAN = {"Authorization": TOKENS.authorization("booking-command", Caller("fan-1", "user"))}
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def schedule(*specs: TicketTypeSpec) -> Event:
    return Event.schedule(
        venue_id=uuid4(),
        venue_capacity=300,
        name="Show",
        description="",
        starts_at=NOW + timedelta(days=10),
        ticket_types=list(specs)
        or [
            TicketTypeSpec("Stalls", Decimal("10.00"), "EUR", 100),
            TicketTypeSpec("Balcony", Decimal("20.00"), "EUR", 100),
        ],
        now=NOW,
    )


def test_an_edit_changes_what_is_given_and_its_fact_carries_the_whole_editable_state() -> None:
    show = schedule()
    stalls, _ = show.ticket_types
    show.collect_events()

    raised = show.change_ticket_type(
        stalls.ticket_type_id, venue_capacity=300, name="Front stalls", quantity=150
    )
    closed = show.change_ticket_type(stalls.ticket_type_id, venue_capacity=300, sales_closed=True)

    assert not raised.lowered
    assert closed.ticket_type.name == "Front stalls"
    assert closed.ticket_type.sales_closed
    assert show.ticket_type(stalls.ticket_type_id) == closed.ticket_type
    assert [to_public_event(fact) for fact in show.collect_events()][-1] == TicketTypeChanged(
        event_id=show.id,
        ticket_type_id=stalls.ticket_type_id,
        name="Front stalls",
        price=Decimal("10.00"),
        currency="EUR",
        quantity=150,
        sales_closed=True,
    )


def test_a_lower_quantity_is_marked_for_inventory_to_agree() -> None:
    show = schedule()
    stalls, _ = show.ticket_types

    change = show.change_ticket_type(stalls.ticket_type_id, venue_capacity=300, quantity=40)

    assert change.lowered
    assert change.ticket_type.quantity == 40


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({}, InvalidInputError),
        ({"name": "balcony"}, ConflictError),
        ({"quantity": 201}, InvalidInputError),
        ({"quantity": 0}, InvalidInputError),
        ({"price": Decimal("-1")}, InvalidInputError),
    ],
)
def test_edits_that_break_a_rule_are_refused(changes: dict[str, Any], error: type) -> None:
    show = schedule()
    stalls, _ = show.ticket_types

    with pytest.raises(error):
        show.change_ticket_type(stalls.ticket_type_id, venue_capacity=300, **changes)


def test_unknown_ticket_types_and_cancelled_events_cannot_be_edited() -> None:
    show = schedule()
    stalls, _ = show.ticket_types

    with pytest.raises(NotFoundError):
        show.change_ticket_type(uuid4(), venue_capacity=300, name="X")
    with pytest.raises(NotFoundError):
        show.remove_ticket_type(uuid4())
    show.cancel(reason="")
    with pytest.raises(ConflictError, match="cancelled"):
        show.change_ticket_type(stalls.ticket_type_id, venue_capacity=300, name="X")


def test_a_removed_ticket_type_is_gone_and_the_last_one_stays() -> None:
    show = schedule()
    stalls, balcony = show.ticket_types
    show.collect_events()

    removal = show.remove_ticket_type(stalls.ticket_type_id)

    assert removal.removed
    assert show.ticket_types == [balcony]
    assert to_public_event(show.collect_events()[-1]) == TicketTypeRemoved(
        event_id=show.id, ticket_type_id=stalls.ticket_type_id
    )
    with pytest.raises(ConflictError) as refused:
        show.remove_ticket_type(balcony.ticket_type_id)
    assert refused.value.error_type == "last_ticket_type"


def test_the_events_hold_and_offer_windows_travel_in_its_sale_fact() -> None:
    show = schedule()
    show.collect_events()

    show.change_sale(SaleTerms(), hold_minutes=10, waitlist_offer_minutes=30)

    assert show.hold_for(timedelta(minutes=2)) == timedelta(minutes=10)
    assert to_public_event(show.collect_events()[-1]) == EventSaleChanged(
        event_id=show.id,
        sale_starts_at=None,
        sale_ends_at=None,
        max_tickets_per_account=None,
        hold_minutes=10,
        waitlist_offer_minutes=30,
    )
    with pytest.raises(InvalidInputError, match="hold_minutes"):
        show.change_sale(SaleTerms(), hold_minutes=0)


def test_events_and_sale_facts_stored_before_the_windows_have_none() -> None:
    snapshot: dict[str, Any] = {}
    Event.upcast_v2_v3(snapshot)
    fact: dict[str, Any] = {}
    Event.SaleChanged.upcast_v1_v2(fact)

    assert snapshot == fact == {"hold_minutes": None, "waitlist_offer_minutes": None}
    assert schedule().hold_for(timedelta(minutes=2)) == timedelta(minutes=2)


def test_a_ticket_type_recorded_before_sales_could_close_is_open() -> None:
    show = schedule()
    [record, *_] = show.ticket_type_records.values()
    del record["sales_closed"]

    assert not show.ticket_types[0].sales_closed


# --- over the internal API ----------------------------------------------------------


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory(tickets_per_type=100)


@pytest.fixture
async def client(inventory: FakeInventory) -> AsyncIterator[httpx.AsyncClient]:
    async with internal_api_client(inventory, PUBLIC_KEY) as client:
        yield client


async def event_on_sale(client: httpx.AsyncClient) -> dict[str, Any]:
    venue = await client.post(
        "/internal/v1/venues",
        json={"name": "Hall", "capacity": 300, "address": "1 Road"},
        headers=MANAGER,
    )
    starts_at = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    event = await client.post(
        "/internal/v1/events",
        json={
            "venue_id": venue.json()["id"],
            "name": "Show",
            "starts_at": starts_at,
            "ticket_types": [
                {"name": "Stalls", "price": "25.00", "quantity": 100},
                {"name": "Balcony", "price": "40.00", "quantity": 100},
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


def ticket_type_url(event: dict[str, Any], index: int = 0) -> str:
    return f"/internal/v1/events/{event['id']}/ticket-types/" + str(
        event["ticket_types"][index]["ticket_type_id"]
    )


async def book(
    client: httpx.AsyncClient, event: dict[str, Any], index: int = 0, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/internal/v1/bookings",
        json={
            "event_id": event["id"],
            "ticket_type_id": event["ticket_types"][index]["ticket_type_id"],
            "quantity": 2,
            "customer_name": "Ada Lovelace",
            "customer_email": "ada@example.com",
            "payment_token": "tok_visa",
            **extra,
        },
        headers=FAN,
    )


async def test_a_patch_without_changes_is_refused_naming_what_can_be_changed(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)

    answer = await client.patch(ticket_type_url(event), json={}, headers=MANAGER)

    assert answer.status_code == 422
    assert "name, price, quantity and sales_closed" in answer.text


async def test_an_unknown_ticket_type_is_not_found_and_fans_may_not_edit(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)

    unknown = await client.patch(
        f"/internal/v1/events/{event['id']}/ticket-types/{uuid4()}",
        json={"name": "X"},
        headers=MANAGER,
    )
    by_fan = await client.patch(ticket_type_url(event), json={"name": "X"}, headers=FAN)

    assert unknown.status_code == 404
    assert by_fan.status_code == 403


async def test_a_new_price_applies_to_bookings_made_after_it(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)
    before = await book(client, event)

    repriced = await client.patch(ticket_type_url(event), json={"price": "30.00"}, headers=MANAGER)
    after = await book(client, event)

    assert repriced.status_code == 200, repriced.text
    assert repriced.json()["ticket_type"]["price"] == "30.00"
    assert before.json()["total_price"] == "50.00"
    assert after.json()["total_price"] == "60.00"
    kept = await client.get(f"/internal/v1/bookings/{before.json()['id']}", headers=FAN)
    assert kept.json()["total_price"] == "50.00"


async def test_a_higher_quantity_asks_inventory_nothing(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)

    raised = await client.patch(ticket_type_url(event), json={"quantity": 150}, headers=MANAGER)

    assert raised.status_code == 200, raised.text
    assert raised.json()["ticket_type"]["quantity"] == 150
    assert inventory.questions == []


async def test_a_lower_quantity_is_stored_once_inventory_applied_it(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    await book(client, event)

    lowered = await client.patch(ticket_type_url(event), json={"quantity": 2}, headers=MANAGER)

    assert lowered.status_code == 200, lowered.text
    assert lowered.json()["ticket_type"]["quantity"] == 2
    [question] = inventory.questions
    assert (question.ticket_type_id, question.quantity, question.remove) == (
        UUID(event["ticket_types"][0]["ticket_type_id"]),
        2,
        False,
    )


async def test_a_quantity_below_the_tickets_taken_is_refused_with_inventorys_figures(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    inventory.taken[UUID(event["ticket_types"][0]["ticket_type_id"])] = (5, 0, 3)
    await book(client, event)

    refused = await client.patch(ticket_type_url(event), json={"quantity": 9}, headers=MANAGER)
    renamed = await client.patch(ticket_type_url(event), json={"name": "Pit"}, headers=MANAGER)

    assert refused.status_code == 409
    assert refused.json() | {"detail": ""} == {
        "detail": "",
        "error_type": "quantity_below_taken",
        "quantity": 100,
        "sold": 5,
        "held": 2,
        "offered": 3,
    }
    assert "below the 10 tickets taken" in refused.json()["detail"]
    assert renamed.json()["ticket_type"]["quantity"] == 100
    assert renamed.json()["version"] == event["version"] + 1


async def test_inventory_not_answering_leaves_the_quantity_as_it_was(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    inventory.unavailable = True

    answer = await client.patch(ticket_type_url(event), json={"quantity": 10}, headers=MANAGER)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "7"
    inventory.unavailable = False
    renamed = await client.patch(ticket_type_url(event), json={"name": "Pit"}, headers=MANAGER)
    assert renamed.json()["ticket_type"]["quantity"] == 100


async def test_a_ticket_type_in_use_is_not_removed(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    await book(client, event)

    refused = await client.delete(ticket_type_url(event), headers=MANAGER)

    assert refused.status_code == 409
    assert refused.json()["error_type"] == "ticket_type_in_use"
    assert refused.json()["held"] == 2
    assert inventory.questions[-1].remove


async def test_a_removed_ticket_type_is_gone_and_books_nothing(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)

    removed = await client.delete(ticket_type_url(event, 1), headers=MANAGER)
    booking = await book(client, event, 1)

    assert removed.status_code == 200, removed.text
    assert [t["name"] for t in removed.json()["ticket_types"]] == ["Stalls"]
    assert booking.status_code == 409
    assert booking.json()["error_type"] == "unknown_ticket_type"


async def test_closing_sales_is_shown_and_left_for_inventory_to_refuse(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)

    closed = await client.patch(ticket_type_url(event), json={"sales_closed": True}, headers=ADMIN)
    inventory.refusal = ("sales_closed", {})
    refused = await book(client, event)

    assert closed.json()["ticket_type"]["sales_closed"] is True
    assert refused.status_code == 409
    assert refused.json()["error_type"] == "sales_closed"
    assert inventory.calls, "booking-command asked inventory rather than refusing itself"


async def test_a_booking_with_an_offer_asks_inventory_for_the_offers_tickets(
    client: httpx.AsyncClient, inventory: FakeInventory
) -> None:
    event = await event_on_sale(client)
    offer_id = uuid4()

    taken_up = await book(client, event, offer_id=str(offer_id))
    inventory.refusal = ("offer_not_valid", {})
    refused = await book(client, event, offer_id=str(uuid4()))

    assert taken_up.status_code == 202, taken_up.text
    assert inventory.calls[0][0].offer_id == offer_id
    assert refused.status_code == 409
    assert refused.json()["error_type"] == "offer_not_valid"


async def test_the_events_hold_window_sets_when_a_bookings_hold_expires(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)

    sale = await client.put(
        f"/internal/v1/events/{event['id']}/sale",
        json={"hold_minutes": 10, "waitlist_offer_minutes": 30},
        headers=MANAGER,
    )
    booked_at = datetime.now(UTC)
    booking = await book(client, event)

    assert sale.status_code == 200, sale.text
    assert (sale.json()["hold_minutes"], sale.json()["waitlist_offer_minutes"]) == (10, 30)
    expires_at = datetime.fromisoformat(booking.json()["hold_expires_at"])
    assert booked_at + timedelta(minutes=10) <= expires_at < booked_at + timedelta(minutes=11)


async def test_a_hold_window_outside_a_minute_to_a_week_is_refused(
    client: httpx.AsyncClient,
) -> None:
    event = await event_on_sale(client)

    answer = await client.put(
        f"/internal/v1/events/{event['id']}/sale", json={"hold_minutes": 0}, headers=MANAGER
    )

    assert answer.status_code == 422
    assert "hold_minutes" in answer.text
