"""Organisers edit ticket types through the gateway (rename, reprice, quantity, close,
remove) and set the hold and offer windows; fans book a waitlist offer even when the stock
says the type is sold out."""

from __future__ import annotations

import json
import uuid

import httpx

from .conftest import BOOKING_COMMAND
from .test_booking_routes import a_booking, published_event

BOOKINGS = "/api/v1/bookings"


def ticket_type_path(event_id: str, ticket_type_id: str) -> str:
    return f"/api/v1/events/{event_id}/ticket-types/{ticket_type_id}"


async def test_a_manager_edits_a_ticket_type_and_booking_command_gets_what_was_given(
    gateway, manager_headers
) -> None:
    event_id, ticket_type_id = await published_event(gateway)

    answer = await gateway.client.patch(
        ticket_type_path(event_id, ticket_type_id),
        json={"price": "12.50", "sales_closed": True},
        headers=manager_headers,
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Read-Position"] == str(answer.json()["position"])
    [sent] = gateway.backend.calls_to(BOOKING_COMMAND, "PATCH")
    assert sent.url.path == f"/internal/v1/events/{event_id}/ticket-types/{ticket_type_id}"
    assert json.loads(sent.content) == {
        "name": None,
        "price": "12.50",
        "quantity": None,
        "sales_closed": True,
    }


async def test_an_edit_of_nothing_or_by_a_fan_never_reaches_booking_command(
    gateway, manager_headers, user_headers
) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    path = ticket_type_path(event_id, ticket_type_id)

    nothing = await gateway.client.patch(path, json={}, headers=manager_headers)
    negative = await gateway.client.patch(path, json={"quantity": 0}, headers=manager_headers)
    by_fan = await gateway.client.patch(path, json={"name": "Pit"}, headers=user_headers)
    removal_by_fan = await gateway.client.delete(path, headers=user_headers)

    assert (nothing.status_code, negative.status_code) == (422, 422)
    assert "name, price, quantity and sales_closed" in nothing.text
    assert (by_fan.status_code, removal_by_fan.status_code) == (403, 403)
    assert gateway.backend.calls_to(BOOKING_COMMAND, "PATCH") == []
    assert gateway.backend.calls_to(BOOKING_COMMAND, "DELETE") == []


async def test_a_quantity_below_what_is_taken_is_refused_with_inventorys_figures(
    gateway, manager_headers
) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    refusal = {
        "detail": "the quantity cannot go below the 7 tickets taken",
        "error_type": "quantity_below_taken",
        "quantity": 10,
        "sold": 5,
        "held": 2,
        "offered": 0,
    }
    gateway.backend.scripted[BOOKING_COMMAND] = lambda _: httpx.Response(409, json=refusal)

    answer = await gateway.client.patch(
        ticket_type_path(event_id, ticket_type_id), json={"quantity": 3}, headers=manager_headers
    )

    assert answer.status_code == 409
    assert answer.json() == refusal


async def test_a_manager_removes_a_ticket_type_or_hears_why_not(gateway, manager_headers) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    path = ticket_type_path(event_id, ticket_type_id)

    removed = await gateway.client.delete(path, headers=manager_headers)
    in_use = {
        "detail": "the ticket type cannot be removed",
        "error_type": "ticket_type_in_use",
        "quantity": 10,
        "sold": 1,
        "held": 0,
        "offered": 0,
    }
    gateway.backend.scripted[BOOKING_COMMAND] = lambda _: httpx.Response(409, json=in_use)
    refused = await gateway.client.delete(path, headers=manager_headers)

    assert removed.status_code == 200, removed.text
    [sent, _] = gateway.backend.calls_to(BOOKING_COMMAND, "DELETE")
    assert sent.url.path == f"/internal/v1/events/{event_id}/ticket-types/{ticket_type_id}"
    assert refused.status_code == 409
    assert refused.json() == in_use


async def test_the_events_hold_and_offer_windows_are_set_within_a_minute_and_a_week(
    gateway, manager_headers
) -> None:
    event_id, _ = await published_event(gateway)
    path = f"/api/v1/events/{event_id}/sale"

    windows = await gateway.client.put(
        path, json={"hold_minutes": 10, "waitlist_offer_minutes": 30}, headers=manager_headers
    )
    too_long = await gateway.client.put(
        path, json={"waitlist_offer_minutes": 10_081}, headers=manager_headers
    )

    assert windows.status_code == 200, windows.text
    [sent] = gateway.backend.calls_to(BOOKING_COMMAND, "PUT")[-1:]
    assert json.loads(sent.content)["hold_minutes"] == 10
    assert json.loads(sent.content)["waitlist_offer_minutes"] == 30
    assert too_long.status_code == 422
    assert "waitlist_offer_minutes" in too_long.text


async def test_a_booking_with_an_offer_goes_on_although_the_type_is_sold_out(
    gateway, user_headers
) -> None:
    event_id, ticket_type_id = await published_event(gateway)
    gateway.backend.availability[event_id] = {ticket_type_id: 0}
    refused = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, ticket_type_id), headers=user_headers
    )
    offer_id = str(uuid.uuid4())

    with_offer = await gateway.client.post(
        BOOKINGS,
        json=a_booking(event_id, ticket_type_id) | {"offer_id": offer_id},
        headers=user_headers,
    )

    assert refused.status_code == 409, "the stock says sold out to general sale"
    assert with_offer.status_code == 202, with_offer.text
    sent = [item["command"] for batch in gateway.backend.batches() for item in batch]
    sent += [
        json.loads(request.content)
        for request in gateway.backend.calls_to(BOOKING_COMMAND, "POST")
        if request.url.path == "/internal/v1/bookings"
    ]
    assert [command.get("offer_id") for command in sent] == [offer_id]


async def test_a_booking_without_an_offer_is_forwarded_without_one(gateway, user_headers) -> None:
    event_id, ticket_type_id = await published_event(gateway)

    booked = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, ticket_type_id), headers=user_headers
    )

    assert booked.status_code == 202
    forwarded = [
        json.loads(request.content)
        for request in gateway.backend.calls_to(BOOKING_COMMAND, "POST")
        if request.url.path.startswith("/internal/v1/bookings")
    ]
    assert forwarded
    assert all("offer_id" not in json.dumps(body) for body in forwarded)
