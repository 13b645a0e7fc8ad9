"""/internal/v1/reconciliation/... over fakes: booking-command's own token only, what
inventory holds per event, and releases decided by booking-command's answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from inventory.adapters.booking_command import BookingCommandUnavailable
from inventory.application.release_not_stored import ReleaseBookingsNotStored
from inventory.domain.bookings import BookingRecord, BookingState
from inventory.domain.stock import ShowInventory, ShowStatus, TicketStock
from inventory.entrypoints.http import reconciliation
from inventory.settings import InventorySettings
from service_kit.app_factory import create_service_app, health_registry_for

from .fakes import FakeBookingDirectory, FakeStore, FakeUnitOfWork
from .test_holds_route import (
    ADMIN,
    BOOKING_COMMAND_KEY,
    GATEWAY_ITSELF,
    PUBLIC_KEY,
    QUERY_PROJECTION,
    QUERY_PROJECTION_KEY,
    SERVICE,
)

EVENT, TICKETS = UUID(int=1), UUID(int=2)


class StoreQueries:
    """The route's reads, answered from the fake store."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def event_ids(self) -> list[UUID]:
        return sorted(self.store.shows)

    async def show_with_bookings(self, event_id: UUID) -> Any:
        show = self.store.shows.get(event_id)
        if show is None:
            return None
        bookings = [b for b in self.store.bookings.values() if b.event_id == event_id]
        return show, bookings


@pytest.fixture
def store() -> FakeStore:
    stock = TicketStock(TICKETS, 10, reserved=0, sold=2)
    show = ShowInventory(EVENT, ShowStatus.ON_SALE, {TICKETS: stock}, 1)
    lost = BookingRecord(uuid4(), EVENT, TICKETS, 2, BookingState.SOLD)
    return FakeStore(shows={EVENT: show}, bookings={lost.booking_id: lost})


def client_for(store: FakeStore, directory: FakeBookingDirectory) -> httpx.AsyncClient:
    settings = InventorySettings(
        environment="test",
        internal_token_public_key=PUBLIC_KEY,
        trusted_service_keys=(
            f"booking-command={BOOKING_COMMAND_KEY},query-projection={QUERY_PROJECTION_KEY}"
        ),
    )
    release = ReleaseBookingsNotStored(
        lambda: FakeUnitOfWork(store),
        directory,
        outcome_topic="inventory-outcomes",
        producer="inventory",
    )
    app = create_service_app(
        settings,
        title="inventory",
        description="test",
        health=health_registry_for(settings),
        service_routers=[
            reconciliation.reconciliation_router(
                lambda: StoreQueries(store),  # type: ignore[arg-type,return-value]
                lambda: release,
            )
        ],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inventory")


@pytest.fixture
async def client(store: FakeStore) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(store, FakeBookingDirectory()) as client:
        yield client


@pytest.mark.parametrize("who", [ADMIN, GATEWAY_ITSELF, QUERY_PROJECTION])
async def test_only_booking_commands_own_token_reconciles(
    client: httpx.AsyncClient, who: dict[str, str]
) -> None:
    assert (await client.get("/internal/v1/reconciliation/events", headers=who)).status_code == 403
    released = await client.post(
        "/internal/v1/reconciliation/releases", json={"booking_ids": [str(uuid4())]}, headers=who
    )
    assert released.status_code == 403


async def test_an_event_is_answered_with_its_stock_and_every_booking(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    events = await client.get("/internal/v1/reconciliation/events", headers=SERVICE)
    assert events.json() == {"event_ids": [str(EVENT)], "highest_position": None}

    answer = await client.get(f"/internal/v1/reconciliation/events/{EVENT}", headers=SERVICE)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ticket_types"] == [
        {"ticket_type_id": str(TICKETS), "quantity": 10, "reserved": 0, "sold": 2}
    ]
    [booking] = body["bookings"]
    assert (booking["state"], booking["quantity"]) == ("sold", 2)
    unknown = await client.get(f"/internal/v1/reconciliation/events/{uuid4()}", headers=SERVICE)
    assert unknown.status_code == 404


async def test_the_tickets_of_a_booking_booking_command_does_not_store_go_back(
    client: httpx.AsyncClient, store: FakeStore
) -> None:
    [lost] = store.bookings

    answer = await client.post(
        "/internal/v1/reconciliation/releases",
        json={"booking_ids": [str(lost)]},
        headers=SERVICE,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"released": [str(lost)], "stored": [], "taking_no_tickets": []}
    assert store.shows[EVENT].ticket_types[TICKETS].sold == 0


async def test_nothing_is_released_while_booking_command_does_not_answer(store: FakeStore) -> None:
    silent = FakeBookingDirectory(failure=BookingCommandUnavailable("circuit open"))
    [lost] = store.bookings
    async with client_for(store, silent) as client:
        answer = await client.post(
            "/internal/v1/reconciliation/releases",
            json={"booking_ids": [str(lost)]},
            headers=SERVICE,
        )
    assert answer.status_code == 503
    assert answer.json()["error_type"] == "dependency_unavailable"
    assert store.shows[EVENT].ticket_types[TICKETS].sold == 2


async def test_an_empty_release_is_refused_with_what_is_wrong(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/internal/v1/reconciliation/releases", json={"booking_ids": []}, headers=SERVICE
    )
    assert answer.status_code == 422
