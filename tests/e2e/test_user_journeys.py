"""What fans and catalog staff see through the public API, with every service running."""

import asyncio
import json
import uuid

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import (
    availability,
    book,
    book_once_back_on_sale,
    eventually,
    refused_as_sold_out,
    register_fan,
    request_booking,
    wait_for_availability,
    wait_for_status,
)
from .platform_api import (
    published_show as a_published_show,
)
from .stack_helpers import PASSWORD, admin_headers, login, wait_until_ready

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def test_a_fan_signs_up_browses_books_sees_it_confirm_cancels_and_the_tickets_return(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    title = f"Northern Lights Tour {uuid.uuid4().hex[:6]}"
    show = await a_published_show(client, admin, {"Stalls": 40, "Balcony": 10}, name=title)
    stalls = show.ticket_type("Stalls")

    fan = await register_fan(client)
    me = await client.get("/api/v1/users/me", headers=fan.headers)
    assert me.json()["email"] == fan.email
    assert me.json()["role"] == "user"

    found = await client.get("/api/v1/events", params={"q": title}, headers=admin)
    assert [item["id"] for item in found.json()["items"]] == [show.event_id]
    details = await client.get(f"/api/v1/events/{show.event_id}", headers=fan.headers)
    assert details.status_code == 200
    assert {item["name"] for item in details.json()["ticket_types"]} == {"Stalls", "Balcony"}
    before = await availability(client, show.event_id)
    assert before[stalls]["available"] == 40

    booking_id = await book(client, fan.headers, show.event_id, stalls, 3)
    statuses: list[str] = []
    async with client.stream(
        "GET", f"/api/v1/bookings/{booking_id}/events", headers=fan.headers, timeout=60
    ) as stream:
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                statuses.append(json.loads(line.removeprefix("data:"))["status"])
    assert statuses[-1] == "CONFIRMED", statuses
    confirmed = await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"})
    assert confirmed["quantity"] == 3
    assert confirmed["total_price"] == "90.00"
    await wait_for_availability(client, show.event_id, stalls, available=37, sold=3, reserved=0)
    mine = await client.get("/api/v1/bookings", headers=fan.headers)
    assert [item["id"] for item in mine.json()["items"]] == [booking_id]

    cancelled = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_status(client, fan.headers, booking_id, {"CANCELLED"})
    await wait_for_availability(client, show.event_id, stalls, available=40, sold=0, reserved=0)
    again = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert again.status_code == 409, again.text


async def test_catalog_staff_need_their_role_and_read_their_own_writes(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    staff = await register_fan(client, name="Morgan Staff")
    venue = {"name": "Harbour Hall", "capacity": 800, "address": "2 Quay Street, Bristol"}
    assert (
        await client.post("/api/v1/venues", json=venue, headers=staff.headers)
    ).status_code == 403
    assert (await client.post("/api/v1/venues", json=venue)).status_code == 401

    granted = await client.put(
        f"/api/v1/users/{staff.user_id}/role", json={"role": "manager"}, headers=admin
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["role"] == "manager"
    denied = await client.put(
        f"/api/v1/users/{staff.user_id}/role", json={"role": "admin"}, headers=staff.headers
    )
    assert denied.status_code == 403
    manager = await login(client, staff.email, PASSWORD)  # the role counts from the next token

    created = await client.post("/api/v1/venues", json=venue, headers=manager)
    assert created.status_code == 201, created.text
    venue_id = created.json()["id"]
    assert created.headers["Location"].endswith(f"/venues/{venue_id}")
    read = await client.get(f"/api/v1/venues/{venue_id}", headers=manager)
    assert read.status_code == 200, read.text
    assert read.json()["name"] == "Harbour Hall"
    renamed = await client.put(
        f"/api/v1/venues/{venue_id}", json={**venue, "name": "Harbour Hall East"}, headers=manager
    )
    assert renamed.status_code == 200, renamed.text
    assert (await client.get(f"/api/v1/venues/{venue_id}", headers=manager)).json()[
        "name"
    ] == "Harbour Hall East"

    show = await a_published_show(client, manager, {"Seated": 300}, venue_id=venue_id)
    added = await client.post(
        f"/api/v1/events/{show.event_id}/ticket-types",
        json={"name": "Standing", "price": "15.00", "quantity": 400},
        headers=manager,
    )
    assert added.status_code == 201, added.text
    event = (await client.get(f"/api/v1/events/{show.event_id}", headers=manager)).json()
    assert {item["name"] for item in event["ticket_types"]} == {"Seated", "Standing"}
    too_big = await client.post(
        f"/api/v1/events/{show.event_id}/ticket-types",
        json={"name": "Boxes", "price": "99.00", "quantity": 200},
        headers=manager,
    )
    assert too_big.status_code in (409, 422), too_big.text  # beyond the venue's 800 seats

    fan = await register_fan(client)
    assert (
        await client.post(f"/api/v1/events/{show.event_id}/cancel", headers=manager)
    ).status_code == 403
    assert (await client.delete(f"/api/v1/venues/{venue_id}", headers=manager)).status_code == 403
    assert (
        await client.post(
            f"/api/v1/events/{show.event_id}/ticket-types",
            json={"name": "VIP", "price": "80.00", "quantity": 5},
            headers=fan.headers,
        )
    ).status_code == 403

    cancelled = await client.post(f"/api/v1/events/{show.event_id}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert (await client.get(f"/api/v1/events/{show.event_id}", headers=admin)).json()[
        "status"
    ] == "cancelled"
    refused = await request_booking(
        client, fan.headers, show.event_id, show.ticket_type("Seated"), 1
    )
    assert refused.status_code == 409, refused.text

    deleted = await client.delete(f"/api/v1/venues/{venue_id}", headers=admin)
    assert deleted.status_code == 204, deleted.text
    assert (await client.get(f"/api/v1/venues/{venue_id}", headers=admin)).status_code == 404


async def test_a_sold_out_ticket_type_is_never_oversold_and_refuses_further_bookings(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Front Row": 5, "Balcony": 3})
    front_row, balcony = show.ticket_type("Front Row"), show.ticket_type("Balcony")
    fans = await asyncio.gather(*(register_fan(client) for _ in range(8)))

    answers = await asyncio.gather(
        *(request_booking(client, fan.headers, show.event_id, front_row, 1) for fan in fans)
    )
    assert {answer.status_code for answer in answers} <= {202, 409}, [a.text for a in answers]
    accepted = [
        (fan, answer.json()["id"])
        for fan, answer in zip(fans, answers, strict=True)
        if answer.status_code == 202
    ]
    assert len(accepted) >= 5, [answer.text for answer in answers]
    settled = [await wait_for_status(client, fan.headers, bid) for fan, bid in accepted]
    outcomes = [item["status"] for item in settled]
    assert outcomes.count("CONFIRMED") == 5, outcomes
    assert set(outcomes) <= {"CONFIRMED", "REJECTED"}, outcomes
    assert {item.get("reason") for item in settled if item["status"] == "REJECTED"} <= {
        "sold_out",
        "not_enough_tickets",
    }
    await wait_for_availability(
        client, show.event_id, front_row, available=0, sold=5, sold_out=True
    )
    late = await refused_as_sold_out(client, fans[0].headers, show.event_id, front_row, 1)
    assert late.json()["error_type"] == "sold_out"

    first = await book(client, fans[0].headers, show.event_id, balcony, 2)
    await wait_for_status(client, fans[0].headers, first, {"CONFIRMED"})
    # A confirmed booking first shows as reserved, then as sold once inventory has seen
    # the confirmation; wait for the sale so the final read is not a race.
    await wait_for_availability(client, show.event_id, balcony, available=1, sold=2)
    too_many = await request_booking(client, fans[1].headers, show.event_id, balcony, 2)
    if too_many.status_code == 202:  # the write side decides when the cache knows nothing yet
        rejected = await wait_for_status(client, fans[1].headers, too_many.json()["id"])
        assert rejected["status"] == "REJECTED", rejected
    else:
        assert too_many.status_code == 409, too_many.text
        assert too_many.json()["error_type"] == "insufficient_capacity"
    final = await availability(client, show.event_id)
    assert final[balcony]["sold"] == 2
    assert final[front_row]["sold"] == 5


async def test_cancelling_a_confirmed_booking_puts_its_tickets_back_on_sale(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Standing": 2})
    standing = show.ticket_type("Standing")
    early, late = await register_fan(client), await register_fan(client)

    first = await book(client, early.headers, show.event_id, standing, 2)
    await wait_for_status(client, early.headers, first, {"CONFIRMED"})
    await wait_for_availability(client, show.event_id, standing, available=0, sold_out=True)
    refused = await refused_as_sold_out(client, late.headers, show.event_id, standing, 1)
    assert refused.json()["error_type"] == "sold_out"
    someone_else = await client.post(f"/api/v1/bookings/{first}/cancel", headers=late.headers)
    assert someone_else.status_code == 404

    cancelled = await client.post(
        f"/api/v1/bookings/{first}/cancel", json={"reason": "cannot make it"}, headers=early.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_status(client, early.headers, first, {"CANCELLED"})
    await wait_for_availability(client, show.event_id, standing, available=2, sold=0)

    second = await book_once_back_on_sale(client, late.headers, show.event_id, standing, 2)
    assert (await wait_for_status(client, late.headers, second))["status"] == "CONFIRMED"
    await wait_for_availability(client, show.event_id, standing, available=0, sold=2)


async def test_while_inventory_is_down_a_booking_is_refused_at_once_and_holds_nothing(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Circle": 4})
    circle = show.ticket_type("Circle")
    fan = await register_fan(client)
    await wait_for_availability(client, show.event_id, circle, available=4)

    await running_stack.kill_service("inventory")
    try:
        refused = await request_booking(
            client, fan.headers, show.event_id, circle, 3, idempotency_key="circle-1"
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error_type"] == "dependency_unavailable"
        assert int(refused.headers["Retry-After"]) >= 1
    finally:
        await running_stack.start_service("inventory")
    assert (await wait_until_ready(running_stack.url("inventory"))).status_code == 200

    # The fan does what Retry-After says, with the same key: booked, nothing held twice.
    retried = await eventually(
        lambda: request_booking(
            client, fan.headers, show.event_id, circle, 3, idempotency_key="circle-1"
        ),
        lambda response: response.status_code != 503,
        within=30,
        what="inventory answering again",
    )
    assert retried.status_code == 202, retried.text
    assert (await wait_for_status(client, fan.headers, retried.json()["id"]))["status"] == (
        "CONFIRMED"
    )
    await wait_for_availability(client, show.event_id, circle, available=1, reserved=0, sold=3)
