"""After the sell-out, across the whole stack: tickets that come back go to the waitlist in
the order fans joined it, each offer is e-mailed, an accepted offer books and confirms, an
offer left to expire passes to the next fan, and nothing is ever oversold."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .caught_mail import mail_with_subject
from .platform_api import (
    Fan,
    availability,
    book,
    eventually,
    published_show,
    register_fan,
    wait_for_status,
)
from .stack_helpers import admin_headers

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 60
# The shortest offer an event can set: the fan who lets hers expire waits this long.
OFFER_MINUTES = 1


def address() -> str:
    return f"fan-{uuid.uuid4().hex[:12]}@example.com"


async def join_waitlist(
    client: httpx.AsyncClient, fan: Fan, event_id: str, ticket_type_id: str, name: str, email: str
) -> dict[str, Any]:
    joined = await client.post(
        f"/api/v1/events/{event_id}/ticket-types/{ticket_type_id}/waitlist",
        json={"quantity": 1, "customer_name": name, "customer_email": email},
        headers=fan.headers,
    )
    assert joined.status_code == 201, joined.text
    return dict(joined.json())


async def own_entry(client: httpx.AsyncClient, fan: Fan) -> dict[str, Any]:
    listed = await client.get("/api/v1/waitlist/entries", headers=fan.headers)
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()["entries"]
    return dict(entry)


async def offered_entry(client: httpx.AsyncClient, fan: Fan) -> dict[str, Any]:
    return await eventually(
        lambda: own_entry(client, fan),
        lambda entry: entry["state"] == "offered",
        within=SETTLE_SECONDS,
        what="an offer",
    )


async def test_returned_tickets_are_offered_in_order_and_an_expired_offer_passes_on(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(client, admin, {"Stalls": 2}, name="Second Chance")
    stalls = show.ticket_type("Stalls")
    windows = await client.put(
        f"/api/v1/events/{show.event_id}/sale",
        json={"waitlist_offer_minutes": OFFER_MINUTES},
        headers=admin,
    )
    assert windows.status_code == 200, windows.text

    holders = [await register_fan(client, name) for name in ("Ann Early", "Bob Early")]
    bookings = [await book(client, fan.headers, show.event_id, stalls, 1) for fan in holders]
    for fan, booking_id in zip(holders, bookings, strict=True):
        await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"}, within=SETTLE_SECONDS)

    names = ("Cat Waiting", "Dan Waiting", "Eve Waiting")
    waiting = [(await register_fan(client, name), name, address()) for name in names]
    places = [
        await join_waitlist(client, fan, show.event_id, stalls, name, email)
        for fan, name, email in waiting
    ]
    assert [place["position"] for place in places] == [1, 2, 3]

    for fan, booking_id in zip(holders, bookings, strict=True):
        cancelled = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
        assert cancelled.status_code == 200, cancelled.text

    (cat, cat_name, cat_email), (dan, _, dan_email), (eve, eve_name, eve_email) = waiting
    cat_offer = (await offered_entry(client, cat))["offer"]
    await offered_entry(client, dan)
    await mail_with_subject(running_stack, cat_email, "Tickets for Second Chance are held for you")
    await mail_with_subject(running_stack, dan_email, "Tickets for Second Chance are held for you")
    eve_now = await own_entry(client, eve)
    assert (eve_now["state"], eve_now["position"]) == ("waiting", 1)
    general_sale = await client.post(
        "/api/v1/bookings",
        json={
            "event_id": show.event_id,
            "ticket_type_id": stalls,
            "quantity": 1,
            "customer_name": "Sly Script",
            "customer_email": address(),
            "payment_token": "tok_visa",
        },
        headers=(await register_fan(client, "Sly Script")).headers,
    )
    assert general_sale.status_code == 409, general_sale.text

    accepted = await book(
        client,
        cat.headers,
        show.event_id,
        stalls,
        1,
        customer_name=cat_name,
        customer_email=cat_email,
        offer_id=cat_offer["offer_id"],
    )
    await wait_for_status(client, cat.headers, accepted, {"CONFIRMED"}, within=SETTLE_SECONDS)

    await mail_with_subject(running_stack, dan_email, "Your offer of tickets for Second Chance")
    await offered_entry(client, eve)
    eve_mail = await mail_with_subject(
        running_stack, eve_email, "Tickets for Second Chance are held for you"
    )
    assert eve_name in " ".join(eve_mail["to"])
    assert (await own_entry(client, dan))["state"] == "expired"
    stock = (await availability(client, show.event_id))[stalls]
    assert stock["sold"] <= 2
    assert stock["available"] == 0
