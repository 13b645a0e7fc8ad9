"""A queued on-sale in headless Chromium: fans in the shop's waiting room, and the manager who
sets it up and watches it in the console."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from gateway.domain.waiting_room import MAX_POLL_SECONDS
from local_infra.stack_state import StackInfo

from ..platform_api import (
    Fan,
    eventually,
    published_show,
    register_fan,
    wait_for_availability,
    wait_for_status,
)
from ..stack_helpers import PASSWORD, admin_headers
from .conftest import screenshot

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 60
# Fast enough that nobody waits on the rate in a test: who goes in when is set by pausing.
QUICK_ROOM = {"admission_per_minute": 6000, "max_admitted_at_once": 100}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def console_input(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


async def turn_on_room(
    client: httpx.AsyncClient, headers: dict[str, str], event_id: str, *, paused: bool = False
) -> None:
    turned_on = await client.put(
        f"/api/v1/events/{event_id}/waiting-room", json=QUICK_ROOM, headers=headers
    )
    assert turned_on.status_code == 201, turned_on.text
    if paused:
        answer = await client.post(f"/api/v1/events/{event_id}/waiting-room/pause", headers=headers)
        assert answer.status_code == 200, answer.text


async def join(client: httpx.AsyncClient, fan: Fan, event_id: str) -> dict[str, Any]:
    joined = await client.post(
        f"/api/v1/events/{event_id}/waiting-room/places", headers=fan.headers
    )
    assert joined.status_code == 201, joined.text
    return dict(joined.json())


async def admission_pass(client: httpx.AsyncClient, fan: Fan, place_token: str) -> str:
    async def place() -> dict[str, Any]:
        answer = await client.get(f"/api/v1/waiting-room/places/{place_token}", headers=fan.headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    admitted = await eventually(
        place, lambda found: found["state"] == "admitted", within=30, what="the fan admitted"
    )
    return str(admitted["pass"])


async def shop_login(page: Page, web_url: str, fan: Fan, next_hash: str) -> None:
    await page.goto(f"{web_url}/#/login?next={next_hash}")
    await page.get_by_label("Email").fill(fan.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_a_fan_waits_in_the_queue_is_let_in_and_books(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(client, admin, {"Stalls": 20, "Balcony": 10}, name="Queued Night")
    now = datetime.now(UTC)
    terms = {
        "sale_starts_at": iso(now - timedelta(hours=1)),
        "sale_ends_at": iso(now + timedelta(days=7)),
        "max_tickets_per_account": 4,
    }
    changed = await client.put(f"/api/v1/events/{show.event_id}/sale", json=terms, headers=admin)
    assert changed.status_code == 200, changed.text
    balcony_opens = now + timedelta(days=2)
    later = await client.put(
        f"/api/v1/events/{show.event_id}/ticket-types/{show.ticket_type('Balcony')}/sale",
        json={"sale_starts_at": iso(balcony_opens)},
        headers=admin,
    )
    assert later.status_code == 200, later.text
    await turn_on_room(client, admin, show.event_id, paused=True)
    ahead = await register_fan(client)
    await join(client, ahead, show.event_id)

    fan = await register_fan(client, name="Quinn Queue")
    await shop_login(page, web_url, fan, f"%23%2Fevent%2F{show.event_id}")
    position = page.locator("#queue-position")
    await expect(position).to_have_text("You are number 2 in the queue: 1 fan ahead of you.")
    await expect(position).to_have_attribute("aria-live", "polite")
    await expect(page.locator("#queue-tickets-left")).to_have_text("30")
    await expect(page.get_by_text("The organiser has paused entry")).to_be_visible()
    await expect(page.locator("#purchase-limit")).to_have_text("Up to 4 tickets per person")
    balcony_terms = page.locator(f"[data-sale-terms='{show.ticket_type('Balcony')}']")
    await expect(balcony_terms).to_contain_text(f"On sale from {balcony_opens:%a} ")
    await expect(page.locator("#booking-form")).to_have_count(0)
    await screenshot(page, "shop-queue-waiting")

    resumed = await client.post(
        f"/api/v1/events/{show.event_id}/waiting-room/resume", headers=admin
    )
    assert resumed.status_code == 200, resumed.text
    # The page polls when the gateway says: while entry is paused, every MAX_POLL_SECONDS.
    await expect(page.locator("#queue-admitted")).to_contain_text(
        "It's your turn!", timeout=(MAX_POLL_SECONDS + 15) * 1000
    )
    ticket_type = page.get_by_label("Ticket type")
    # Only what is on sale now can be chosen: the balcony opens in two days.
    await expect(ticket_type.locator("option")).to_have_count(1)
    await ticket_type.select_option(label="Stalls · €30.00")
    await page.get_by_label("Quantity").fill("2")
    await page.get_by_label("Payment card").select_option("tok_visa")
    await screenshot(page, "shop-queue-admitted")
    await page.get_by_role("button", name="Book now").click()

    status = page.locator("#booking-status")
    await expect(status).to_have_attribute(
        "data-status", "CONFIRMED", timeout=SETTLE_SECONDS * 1000
    )
    await screenshot(page, "shop-queue-booked")
    mine = await client.get("/api/v1/bookings", headers=fan.headers)
    [booking] = mine.json()["items"]
    assert (booking["event_id"], booking["quantity"]) == (show.event_id, 2)


async def test_a_fan_arriving_after_the_sell_out_is_told_at_once(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(client, admin, {"Stalls": 2}, name="Gone Night")
    stalls = show.ticket_type("Stalls")
    early = await register_fan(client)
    booked = await client.post(
        "/api/v1/bookings",
        json={
            "event_id": show.event_id,
            "ticket_type_id": stalls,
            "quantity": 2,
            "customer_name": "Early Bird",
            "customer_email": early.email,
            "payment_token": "tok_visa",
        },
        headers=early.headers,
    )
    assert booked.status_code == 202, booked.text
    await wait_for_status(client, early.headers, booked.json()["id"], within=SETTLE_SECONDS)
    await wait_for_availability(client, show.event_id, stalls, sold_out=True)
    await turn_on_room(client, admin, show.event_id)

    late = await register_fan(client, name="Lee Late")
    await shop_login(page, web_url, late, f"%23%2Fevent%2F{show.event_id}")
    await expect(page.locator("#sold-out")).to_contain_text("sold out", timeout=5_000)
    await expect(page.locator("#queue")).to_have_count(0)
    await expect(page.locator("#booking-form")).to_have_count(0)
    await screenshot(page, "shop-sold-out-at-once")


async def test_a_manager_sets_up_a_queued_on_sale_and_watches_it_in_charts(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    staff = await register_fan(client, name="Mina Manager")
    granted = await client.put(
        f"/api/v1/users/{staff.user_id}/role", json={"role": "manager"}, headers=admin
    )
    assert granted.status_code == 200, granted.text
    name = f"Charted {uuid.uuid4().hex[:6]}"
    show = await published_show(client, admin, {"Stalls": 30}, name=name)
    stalls = show.ticket_type("Stalls")

    await page.goto(f"{web_url}/console#/events")
    await page.get_by_label("Email").fill(staff.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("link", name=f"On-sale settings of {name}").click()
    await expect(page.get_by_role("heading", name=f"On-sale settings: {name}")).to_be_visible()

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ends = now + timedelta(days=20)
    event_form = page.locator("#event-sale-form")
    await event_form.get_by_label("Sale starts (UTC)").fill(console_input(now - timedelta(hours=2)))
    await event_form.get_by_label("Sale ends (UTC)").fill(console_input(ends))
    await event_form.get_by_label("Most tickets per person").fill("4")
    await event_form.get_by_role("button", name="Save event terms").click()
    await expect(page.get_by_text("Sale terms of the event saved.")).to_be_visible()
    stalls_form = page.locator(f"#sale-{stalls}")
    await stalls_form.get_by_label("Most tickets per person").fill("2")
    await stalls_form.get_by_role("button", name="Save stalls terms").click()
    await expect(page.get_by_text("Sale terms of Stalls saved.")).to_be_visible()

    room_form = page.locator("#waiting-room-form")
    await room_form.get_by_label("Fans let in per minute").fill("6000")
    await room_form.get_by_label("Most fans booking at once").fill("100")
    await room_form.get_by_role("button", name="Turn on waiting room").click()
    await expect(page.get_by_text("Waiting room is on")).to_be_visible()
    await page.get_by_role("button", name="Pause entry").click()
    await expect(page.get_by_text("Entry paused")).to_be_visible()
    await expect(page.locator("#waiting-room-state")).to_contain_text("Paused")
    await screenshot(page, "console-on-sale-settings")

    async def read_event() -> dict[str, Any]:
        return dict((await client.get(f"/api/v1/events/{show.event_id}", headers=admin)).json())

    event = await eventually(
        read_event,
        lambda found: found["ticket_types"][0]["max_tickets_per_account"] == 2,
        within=20,
        what="the sale terms in the event's read",
    )
    assert event["max_tickets_per_account"] == 4
    assert event["sale_ends_at"].startswith(iso(ends)[:16])
    assert event["ticket_types"][0]["max_tickets_per_account"] == 2
    room = (await client.get(f"/api/v1/events/{show.event_id}/waiting-room", headers=admin)).json()
    assert (room["admission_per_minute"], room["max_admitted_at_once"], room["paused"]) == (
        6000,
        100,
        True,
    )

    await page.get_by_role("link", name=f"Live sale of {name}").click()
    waiting_chart = page.locator("#chart-waiting")
    await expect(waiting_chart).to_have_attribute("data-latest", "0", timeout=20_000)
    fans = [await register_fan(client) for _ in range(2)]
    places = [await join(client, fan, show.event_id) for fan in fans]
    await expect(waiting_chart).to_have_attribute("data-latest", "2", timeout=20_000)
    await expect(page.locator("#room-waiting")).to_have_text("2")
    points = waiting_chart.locator("circle.chart-point")
    seen = await points.count()
    await expect(waiting_chart.locator("svg[role='img']")).to_have_attribute(
        "aria-label", re.compile(r"^Fans waiting: now 2, over the last \d+ samples")
    )

    resumed = await client.post(
        f"/api/v1/events/{show.event_id}/waiting-room/resume", headers=admin
    )
    assert resumed.status_code == 200, resumed.text
    first = fans[0]
    pass_token = await admission_pass(client, first, places[0]["place_token"])
    booked = await client.post(
        "/api/v1/bookings",
        json={
            "event_id": show.event_id,
            "ticket_type_id": stalls,
            "quantity": 2,
            "customer_name": "Sam Fan",
            "customer_email": first.email,
            "payment_token": "tok_visa",
        },
        headers={**first.headers, "X-Admission-Pass": pass_token},
    )
    assert booked.status_code == 202, booked.text
    await expect(waiting_chart).to_have_attribute("data-latest", "0", timeout=20_000)
    await expect(page.locator("#chart-tickets-left")).to_have_attribute(
        "data-latest", "28", timeout=20_000
    )
    bookings_chart = page.locator("#chart-bookings circle.chart-point")
    await eventually(
        lambda: bookings_chart.evaluate_all(
            "points => points.map(point => Number(point.dataset.value))"
        ),
        lambda values: any(value > 0 for value in values),
        within=20,
        what="a booking drawn on the bookings-per-second chart",
    )
    assert await points.count() > seen
    await screenshot(page, "console-live-sale-charts")
