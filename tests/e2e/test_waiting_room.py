"""A waiting room in front of a real on-sale (issue 22), every service running: nobody books
without a pass, a fan admitted from the room books with theirs, the room tells the fans
still waiting that the sale is sold out once the last ticket is sold, and admits them when a
cancellation puts it back on sale."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import (
    eventually,
    published_show,
    register_fan,
    request_booking,
    wait_for_status,
)
from .stack_helpers import admin_headers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def place(client: httpx.AsyncClient, joined: httpx.Response, headers: dict[str, str]) -> Any:
    polled = await client.get(joined.headers["Location"], headers=headers)
    assert polled.status_code == 200, polled.text
    assert int(polled.headers["Retry-After"]) >= 1
    return polled.json()


async def in_state(
    client: httpx.AsyncClient, joined: httpx.Response, headers: dict[str, str], state: str
) -> Any:
    return await eventually(
        lambda: place(client, joined, headers),
        lambda found: found["state"] == state,
        within=30,
        what=f"a place {state}",
    )


async def test_fans_book_only_with_a_pass_and_the_room_follows_the_stock(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(
        client, admin, {"Front Row": 1}, name=f"Room {uuid.uuid4().hex[:6]}"
    )
    front_row = show.ticket_type("Front Row")
    room = f"/api/v1/events/{show.event_id}/waiting-room"
    turned_on = await client.put(
        room,
        json={
            "admission_per_minute": 600,
            "max_admitted_at_once": 50,
            "booking_attempts_per_pass": 1,
        },
        headers=admin,
    )
    assert turned_on.status_code == 201, turned_on.text

    first, second = await register_fan(client), await register_fan(client)
    without_pass = await request_booking(client, first.headers, show.event_id, front_row, 1)
    assert without_pass.status_code == 403, without_pass.text
    assert without_pass.json()["error_type"] == "not_admitted"

    joined = await client.post(f"{room}/places", headers=first.headers)
    assert joined.status_code == 201, joined.text
    admitted = await in_state(client, joined, first.headers, "admitted")
    borrowed = await request_booking(
        client,
        {**second.headers, "X-Admission-Pass": admitted["pass"]},
        show.event_id,
        front_row,
        1,
    )
    assert borrowed.status_code == 403
    booked = await request_booking(
        client, {**first.headers, "X-Admission-Pass": admitted["pass"]}, show.event_id, front_row, 1
    )
    assert booked.status_code == 202, booked.text
    booking_id = booked.json()["id"]
    await wait_for_status(client, first.headers, booking_id, {"CONFIRMED"})

    # The room learns the stock from the availability read, moments after the sale: a fan
    # joining in between may still be let in. Once the room says sold out, nobody is.
    async def room_figures() -> httpx.Response:
        return await client.get(room, headers=admin)

    await eventually(
        room_figures,
        lambda answer: answer.status_code == 200 and answer.json()["sold_out"] is True,
        within=30,
        what="the room knowing the event is sold out",
    )
    waiting = await client.post(f"{room}/places", headers=second.headers)
    assert waiting.status_code == 201, waiting.text
    sold_out = await in_state(client, waiting, second.headers, "sold_out")
    assert (sold_out["tickets_left"], sold_out["waitlist"]) == (0, None)
    watched = (await client.get(room, headers=admin)).json()
    assert (watched["sold_out"], watched["waiting"]) == (True, 1)

    cancelled = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=first.headers)
    assert cancelled.status_code == 200, cancelled.text
    back = await in_state(client, waiting, second.headers, "admitted")
    rebooked = await request_booking(
        client, {**second.headers, "X-Admission-Pass": back["pass"]}, show.event_id, front_row, 1
    )
    assert rebooked.status_code == 202, rebooked.text
    await wait_for_status(client, second.headers, rebooked.json()["id"], {"CONFIRMED"})

    assert (await client.delete(room, headers=admin)).status_code == 204
    closed = await place(client, waiting, second.headers)
    assert closed["state"] == "closed"
