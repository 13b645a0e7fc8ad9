"""The waitlist and ticket type edits in headless Chromium against the running stack: a fan
on a sold-out ticket type's waitlist receives an offer in the shop when a booking is
cancelled and books it through the e-mail's link; the console edits a ticket type, and a
quantity below what is sold is refused in words."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import Page, expect

from local_infra.stack_state import StackInfo

from ..platform_api import (
    book,
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
# The time an offer has left, minutes and seconds ("14:59").
CLOCK = re.compile(r"^\d{1,3}:\d{2}$")


async def log_in_on(page: Page, url: str, email: str) -> None:
    await page.goto(url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_a_fan_on_the_waitlist_receives_an_offer_in_the_shop_and_books_it(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(
        client, admin, {"Stalls": 2}, name=f"Waitlist Night {uuid.uuid4().hex[:6]}"
    )
    stalls = show.ticket_type("Stalls")
    first = await register_fan(client, "Ada First")
    booking_id = await book(client, first.headers, show.event_id, stalls, 2)
    await wait_for_status(client, first.headers, booking_id, {"CONFIRMED"}, within=SETTLE_SECONDS)
    await wait_for_availability(client, show.event_id, stalls, available=0, sold_out=True)

    waiting = await register_fan(client, "Wes Waiting")
    await log_in_on(page, f"{web_url}/#/login?next=%23%2Fevent%2F{show.event_id}", waiting.email)
    await expect(page.locator("#sold-out")).to_be_visible()
    await page.get_by_label("Tickets wanted of Stalls").fill("2")
    await page.get_by_role("button", name="Join the waitlist").click()
    place = page.locator("#waitlist .waitlist-place")
    await expect(place).to_have_text(
        "You are next on the waitlist. We will e-mail you when tickets come back."
    )
    await screenshot(page, "shop-waitlist-place")

    cancelled = await client.post(
        f"/api/v1/bookings/{booking_id}/cancel", json={}, headers=first.headers
    )
    assert cancelled.status_code == 200, cancelled.text

    offer = page.locator("#waitlist .offer")
    await expect(offer).to_be_visible(timeout=SETTLE_SECONDS * 1000)
    await expect(offer).to_contain_text("2 tickets are held for you for")
    await expect(place).to_contain_text("Tickets are held for you")
    offer_id = await offer.get_attribute("data-offer-id")
    await screenshot(page, "shop-waitlist-offer")

    # The e-mail's link opens the shop on the offer.
    await page.goto(f"{web_url}/offers/{offer_id}")
    await expect(page.get_by_role("heading", name="Tickets held for you")).to_be_visible()
    await expect(page.locator("#offer-tickets")).to_contain_text("2 \u00d7 Stalls")
    await expect(page.locator("#offer-countdown")).to_have_text(CLOCK)
    await expect(page.get_by_label("Name on the tickets")).to_have_value("Wes Waiting")
    await page.get_by_label("Payment card").select_option("tok_visa")
    await page.get_by_role("button", name="Book these tickets").click()

    status = page.locator("#booking-status")
    await expect(status).to_have_attribute(
        "data-status", "CONFIRMED", timeout=SETTLE_SECONDS * 1000
    )
    await screenshot(page, "shop-waitlist-offer-booked")

    await page.get_by_role("link", name="My waitlist").click()
    entry = page.locator("#waitlist-entries .waitlist")
    await expect(entry).to_have_attribute("data-state", "accepted")
    await expect(entry).to_contain_text("You booked the tickets offered to you.")


async def test_the_console_edits_a_ticket_type_and_says_why_a_lower_quantity_is_refused(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(
        client, admin, {"Stalls": 10}, name=f"Edit Night {uuid.uuid4().hex[:6]}"
    )
    stalls = show.ticket_type("Stalls")
    fan = await register_fan(client, "Ada Fan")
    booking_id = await book(client, fan.headers, show.event_id, stalls, 2)
    await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"}, within=SETTLE_SECONDS)

    await page.goto(f"{web_url}/console#/ticket-types/{show.event_id}")
    await page.get_by_label("Email").fill(running_stack.shared_env["ADMIN_EMAIL"])
    await page.get_by_label("Password").fill(running_stack.shared_env["ADMIN_PASSWORD"])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("tr[data-waitlist-ticket-type='Stalls']")).to_contain_text("0")

    await page.get_by_label("Quantity of Stalls").fill("1")
    await page.get_by_role("button", name="Save Stalls").click()
    await expect(page.locator("#feedback")).to_have_text(
        "2 sold, 0 held, 0 offered: the quantity cannot go below 2."
    )

    await page.get_by_label("Name of Stalls").fill("Front Stalls")
    await page.get_by_label("Quantity of Stalls").fill("30")
    await page.get_by_role("button", name="Save Stalls").click()
    await expect(page.locator("#feedback")).to_have_text("Front Stalls saved.")
    await screenshot(page, "console-ticket-type-edited")

    async def stalls_read() -> dict[str, object]:
        event = (await client.get(f"/api/v1/events/{show.event_id}")).json()
        (ticket_type,) = event["ticket_types"]
        return dict(ticket_type)

    await eventually(
        stalls_read,
        lambda read: (read["name"], read["quantity"]) == ("Front Stalls", 30),
        within=SETTLE_SECONDS,
        what="the renamed ticket type with 30 tickets",
    )
    await wait_for_availability(client, show.event_id, stalls, quantity=30, available=28)
    await page.reload()
    await expect(page.get_by_label("Quantity of Front Stalls")).to_have_value("30")
