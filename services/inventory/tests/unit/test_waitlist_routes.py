"""The waitlist's routes over fakes: the fan is the caller, someone else's entry is 404, the
organiser's view is for managers and admins, and booking-command's question answers 409 with
the figures in the kit's error body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import httpx
import pytest

from inventory.application.ticket_type_changes import AnswerTicketTypeChange
from inventory.application.waitlist import Waitlist
from inventory.bootstrap import NOT_POSTGRES_FAILURES
from inventory.domain.stock import ShowInventory, ShowStatus, TicketStock
from inventory.entrypoints.http import waitlist
from inventory.settings import InventorySettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.circuit_breakers import create_breaker
from service_kit.internal_auth import Caller

from .fakes import FakeStore, FakeUnitOfWork
from .test_holds_route import (
    ADMIN,
    BOOKING_COMMAND_KEY,
    PUBLIC_KEY,
    SERVICE,
    TOKENS,
    USER,
)

EVENT, TICKETS = UUID(int=1), UUID(int=2)
OTHER_FAN = {"Authorization": TOKENS.authorization("inventory", Caller("user-2", "user"))}
JOIN = f"/internal/v1/events/{EVENT}/ticket-types/{TICKETS}/waitlist"
BODY = {"quantity": 2, "customer_name": "Ada Lovelace", "customer_email": "ada@example.org"}


@pytest.fixture
def store() -> FakeStore:
    stock = TicketStock(TICKETS, 4, reserved=1, sold=3)
    return FakeStore(shows={EVENT: ShowInventory(EVENT, ShowStatus.ON_SALE, {TICKETS: stock})})


@pytest.fixture
async def client(store: FakeStore) -> AsyncIterator[httpx.AsyncClient]:
    settings = InventorySettings(
        environment="test",
        internal_token_public_key=PUBLIC_KEY,
        trusted_service_keys=f"booking-command={BOOKING_COMMAND_KEY}",
    )

    def uow() -> FakeUnitOfWork:
        return FakeUnitOfWork(store)

    line = Waitlist(uow, offer_for=timedelta(minutes=15), outcome_topic="t", producer="i")
    answer = AnswerTicketTypeChange(uow, outcome_topic="t", producer="i")
    people, services = waitlist.waitlist_routers(
        lambda: line,
        lambda: answer,
        lambda: None,  # type: ignore[arg-type,return-value]  # no reads in these tests
        create_breaker(
            "postgres", fail_max=5, reset_timeout_seconds=1, exclude=NOT_POSTGRES_FAILURES
        ),
    )
    app = create_service_app(
        settings,
        title="inventory",
        description="test",
        health=health_registry_for(settings),
        routers=[people],
        service_routers=[services],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://inventory"
    ) as client:
        yield client


async def test_a_fan_joins_once_and_joining_again_answers_the_same_place(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post(JOIN, json=BODY, headers=USER)
    again = await client.post(JOIN, json=BODY, headers=USER)

    assert first.status_code == 201, first.text
    assert (first.json()["state"], first.json()["position"]) == ("waiting", 1)
    assert again.status_code == 200
    assert again.json()["entry_id"] == first.json()["entry_id"]


async def test_joining_a_ticket_type_that_is_not_sold_out_is_refused(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    store.shows[EVENT].ticket_types[TICKETS].reserved = 0

    answer = await client.post(JOIN, json=BODY, headers=USER)

    assert answer.status_code == 409
    assert answer.json()["error_type"] == "not_sold_out"


async def test_someone_elses_entry_is_not_found_and_declining_without_an_offer_is_refused(
    client: httpx.AsyncClient,
) -> None:
    entry_id = (await client.post(JOIN, json=BODY, headers=USER)).json()["entry_id"]

    theirs = await client.delete(f"/internal/v1/waitlist/entries/{entry_id}", headers=OTHER_FAN)
    decline = await client.post(f"/internal/v1/waitlist/entries/{entry_id}/decline", headers=USER)
    leave = await client.delete(f"/internal/v1/waitlist/entries/{entry_id}", headers=USER)

    assert theirs.status_code == 404
    assert theirs.json()["error_type"] == "waitlist_entry_not_found"
    assert (decline.status_code, decline.json()["error_type"]) == (409, "no_open_offer")
    assert leave.status_code == 204


async def test_only_managers_and_admins_see_an_events_waitlist_and_only_booking_command_asks(
    client: httpx.AsyncClient,
) -> None:
    assert (
        await client.get(f"/internal/v1/events/{EVENT}/waitlist", headers=USER)
    ).status_code == 403
    question = {"change_id": str(uuid4()), "event_id": str(EVENT), "ticket_type_id": str(TICKETS)}
    for who in (USER, ADMIN):
        answer = await client.post("/internal/v1/ticket-type-changes", json=question, headers=who)
        assert answer.status_code == 403


async def test_a_quantity_below_what_is_taken_is_refused_with_the_figures(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    question = {
        "change_id": str(uuid4()),
        "event_id": str(EVENT),
        "ticket_type_id": str(TICKETS),
        "quantity": 3,
    }

    refused = await client.post("/internal/v1/ticket-type-changes", json=question, headers=SERVICE)
    unknown = await client.post(
        "/internal/v1/ticket-type-changes",
        json={**question, "ticket_type_id": str(uuid4())},
        headers=SERVICE,
    )

    assert refused.status_code == 409
    body = refused.json()
    assert (body["error_type"], body["outcome"], body["reason"]) == (
        "quantity_below_taken",
        "refused",
        "quantity_below_taken",
    )
    assert {k: body["taken"][k] for k in ("quantity", "sold", "held", "offered")} == {
        "quantity": 4,
        "sold": 3,
        "held": 1,
        "offered": 0,
    }
    assert "cannot go below 4" in body["detail"]
    assert store.shows[EVENT].ticket_types[TICKETS].quantity == 4
    assert (unknown.status_code, unknown.json()["error_type"]) == (404, "unknown_ticket_type")


async def test_asking_often_about_entries_that_are_not_yours_never_stops_the_waitlist(
    client: httpx.AsyncClient,
) -> None:
    entry_id = (await client.post(JOIN, json=BODY, headers=USER)).json()["entry_id"]

    for _ in range(8):
        theirs = await client.delete(f"/internal/v1/waitlist/entries/{entry_id}", headers=OTHER_FAN)
        unknown = await client.post(
            f"/internal/v1/waitlist/entries/{uuid4()}/decline", headers=USER
        )
        assert (theirs.status_code, unknown.status_code) == (404, 404)
    decline = await client.post(f"/internal/v1/waitlist/entries/{entry_id}/decline", headers=USER)

    assert (decline.status_code, decline.json()["error_type"]) == (409, "no_open_offer")
