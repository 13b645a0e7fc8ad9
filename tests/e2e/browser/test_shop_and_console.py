"""People using the shop and the console in headless Chromium, against the running stack."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect

from local_infra.stack_state import StackInfo
from ticketing_contracts import topics

from ..platform_api import (
    SETTLED,
    book,
    eventually,
    published_show,
    register_fan,
    wait_for_status,
)
from ..stack_helpers import PASSWORD, admin_headers, login
from .conftest import screenshot

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 60


async def test_a_fan_signs_up_books_and_sees_the_booking_confirmed(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    name = f"Browser Night {uuid.uuid4().hex[:6]}"
    show = await published_show(client, admin, {"Stalls": 50, "Balcony": 20}, name=name)

    await page.goto(f"{web_url}/#/signup")
    await page.get_by_label("Your name").fill("Ada Fan")
    await page.get_by_label("Email").fill(f"ada-{uuid.uuid4().hex[:10]}@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_text("Signed in as Ada Fan")).to_be_visible()

    await page.get_by_label("Search events").fill(name)
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await expect(page.locator(".availability").first).to_have_text("50 available")
    await screenshot(page, "shop-events")

    await page.get_by_role("link", name=f"Book tickets for {name}").click()
    await page.get_by_label("Ticket type").select_option(label="Balcony · €30.00")
    await page.get_by_label("Quantity").fill("2")
    await page.get_by_label("Payment card").select_option("tok_visa")
    await screenshot(page, "shop-book")
    await page.get_by_role("button", name="Book now").click()

    status = page.locator("#booking-status")
    await expect(status).to_have_attribute(
        "data-status", "CONFIRMED", timeout=SETTLE_SECONDS * 1000
    )
    await expect(status).to_contain_text("Confirmed")
    await screenshot(page, "shop-booking-confirmed")

    await page.get_by_role("link", name="My bookings", exact=True).click()
    row = page.locator("tbody tr").first
    await expect(row).to_contain_text("CONFIRMED")
    await expect(row).to_contain_text("€60.00")
    await screenshot(page, "shop-my-bookings")
    assert show.ticket_type("Balcony")


async def _console_login(
    page: Page, web_url: str, stack: StackInfo, *, email: str = "", password: str = ""
) -> None:
    """As the admin unless another account is given."""
    await page.goto(f"{web_url}/console#/events")
    await page.get_by_label("Email").fill(email or stack.shared_env["ADMIN_EMAIL"])
    await page.get_by_label("Password").fill(password or stack.shared_env["ADMIN_PASSWORD"])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Events", exact=True)).to_be_visible()


async def test_an_admin_puts_an_event_on_sale_and_watches_it_sell_out(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    await _console_login(page, web_url, running_stack)
    venue = f"Hall {uuid.uuid4().hex[:6]}"
    await page.get_by_role("link", name="Venues").click()
    venue_form = page.locator("#venue-form")
    await venue_form.get_by_label("Venue name").fill(venue)
    await venue_form.get_by_label("Capacity").fill("500")
    await venue_form.get_by_label("Address").fill("2 Quay Street, Bristol")
    await venue_form.get_by_role("button", name="Create venue").click()
    await expect(page.get_by_text(f"Venue “{venue}” created.")).to_be_visible()
    await screenshot(page, "console-venues")

    event = f"Flash {uuid.uuid4().hex[:6]}"
    await page.get_by_role("link", name="Events").click()
    form = page.locator("#event-form")
    await form.get_by_label("Venue").select_option(label=venue)
    await form.get_by_label("Event name").fill(event)
    await form.get_by_label("Starts at (UTC)").fill("2031-06-01T19:30")
    first_type = form.locator("fieldset").first
    await first_type.get_by_label("Name").fill("Standing")
    await first_type.get_by_label("Price").fill("25.00")
    await first_type.get_by_label("Quantity").fill("6")
    await form.get_by_role("button", name="Create event").click()
    await expect(page.get_by_text(f"Event “{event}” created as a draft")).to_be_visible()
    await page.get_by_role("button", name=f"Publish {event}").click()
    await expect(page.get_by_text(f"“{event}” is on sale.")).to_be_visible()
    await screenshot(page, "console-events")

    events = await client.get("/api/v1/events", params={"q": event, "status": "published"})
    [listed] = events.json()["items"]
    details = (await client.get(f"/api/v1/events/{listed['id']}")).json()
    event_id, ticket_type_id = listed["id"], details["ticket_types"][0]["ticket_type_id"]

    # The crowd: 6 fans want 2 tickets each of 6.
    fans = await asyncio.gather(*(register_fan(client) for _ in range(6)))
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/v1/bookings",
                json={
                    "event_id": event_id,
                    "ticket_type_id": ticket_type_id,
                    "quantity": 2,
                    "customer_name": "Sam Fan",
                    "customer_email": fan.email,
                    "payment_token": "tok_visa",
                },
                headers=fan.headers,
            )
            for fan in fans
        )
    )
    booked = [answer.json()["id"] for answer in answers if answer.status_code == 202]
    admin = await admin_headers(client, running_stack)

    async def settled() -> list[dict]:
        page_of = await client.get(
            "/api/v1/bookings", params={"event_id": event_id, "size": 50}, headers=admin
        )
        return page_of.json()["items"]

    bookings = await eventually(
        settled,
        lambda items: len(items) == len(booked) and all(b["status"] in SETTLED for b in items),
        within=SETTLE_SECONDS,
        what="every booking of the sale settled",
    )
    confirmed = sum(booking["status"] == "CONFIRMED" for booking in bookings)
    rejected = sum(booking["status"] == "REJECTED" for booking in bookings)
    assert confirmed == 3
    assert rejected == len(booked) - confirmed

    await page.get_by_role("link", name=f"Live sale of {event}").click()
    await expect(page.locator("#bookings-confirmed")).to_have_text(str(confirmed), timeout=20_000)
    await expect(page.locator("#bookings-rejected")).to_have_text(str(rejected))
    await expect(page.locator("#tickets-sold")).to_have_text("6 / 6")
    await expect(page.locator("#sold-out")).to_have_text("Sold out")
    standing = page.locator("tr[data-ticket-type='Standing']")
    await expect(standing.locator("td").nth(2)).to_have_text("6")
    await expect(standing.locator("td").nth(5)).to_have_text("Sold out")
    await screenshot(page, "console-live-sale")


async def test_a_manager_watches_a_sale_but_not_health_or_dead_letters(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    staff = await register_fan(client, name="Morgan Manager")
    granted = await client.put(
        f"/api/v1/users/{staff.user_id}/role", json={"role": "manager"}, headers=admin
    )
    assert granted.status_code == 200, granted.text
    name = f"Managed {uuid.uuid4().hex[:6]}"
    show = await published_show(client, admin, {"Stalls": 10}, name=name)
    fan = await register_fan(client)
    stalls = show.ticket_type("Stalls")
    paid = await book(client, fan.headers, show.event_id, stalls, 2)
    declined = await book(client, fan.headers, show.event_id, stalls, 1, card="tok_chargeDeclined")
    assert (await wait_for_status(client, fan.headers, paid, within=SETTLE_SECONDS))[
        "status"
    ] == "CONFIRMED"
    assert (await wait_for_status(client, fan.headers, declined, within=SETTLE_SECONDS))[
        "status"
    ] == "REJECTED"

    manager = await login(client, staff.email, PASSWORD)
    sale = f"/api/v1/admin/events/{show.event_id}/sale"
    assert (await client.get(sale, headers=manager)).status_code == 200
    for admins_only in ("/api/v1/admin/health", "/api/v1/admin/dead-letters"):
        answer = await client.get(admins_only, headers=manager)
        assert answer.status_code == 403, (admins_only, answer.text)

    await _console_login(page, web_url, running_stack, email=staff.email, password=PASSWORD)
    await expect(page.get_by_text("Morgan Manager (manager)")).to_be_visible()
    await expect(page.get_by_role("link", name="Health")).to_have_count(0)
    await expect(page.get_by_role("link", name="Dead letters")).to_have_count(0)
    await page.get_by_role("link", name=f"Live sale of {name}").click()
    await expect(page.locator("#bookings-confirmed")).to_have_text("1", timeout=20_000)
    await expect(page.locator("#bookings-rejected")).to_have_text("1")
    await expect(page.locator("#tickets-sold")).to_have_text("2 / 10")
    await screenshot(page, "console-live-sale-manager")
    await page.goto(f"{web_url}/console#/health")
    await expect(
        page.get_by_text("Platform health and dead letters are for admins.")
    ).to_be_visible()


async def test_the_console_lists_a_dead_letter_and_re_drives_it(
    page: Page, web_url: str, running_stack: StackInfo
) -> None:
    # Two poison messages: re-driving the newer must leave the older one pending.
    older = f"older-{uuid.uuid4().hex[:8]}"
    poison = f"poison-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=running_stack.kafka_bootstrap_servers)
    await producer.start()
    try:
        for marker in (older, poison):
            await producer.send_and_wait(
                running_stack.topic_prefix + topics.CATALOG_EVENTS,
                json.dumps({"not": "an event envelope", "marker": marker}).encode(),
                key=marker.encode(),
            )
    finally:
        await producer.stop()

    await _console_login(page, web_url, running_stack)
    await page.get_by_role("link", name="Health").click()
    gateway_row = page.locator("tr[data-service='gateway']")
    await expect(gateway_row).to_contain_text("Ready")
    await expect(page.locator("tr[data-service='query-projection']")).to_contain_text("Ready")
    await screenshot(page, "console-health")
    section = page.locator("section[data-service='query-projection']")

    async def listed() -> bool:
        await page.goto(f"{web_url}/console#/dead-letters")
        await page.reload()
        await expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
        return all([await section.get_by_text(marker).count() > 0 for marker in (older, poison)])

    await eventually(
        listed, bool, within=SETTLE_SECONDS, interval=1, what="the dead letters listed"
    )
    row = section.locator("tbody tr", has_text=poison).first
    await expect(row).to_contain_text("Pending")
    for service in ("inventory", "query-projection"):
        await expect(page.locator(f"section[data-service='{service}'] h2")).to_be_visible()
    await expect(page.locator("section[data-service='booking-command']")).to_have_count(0)
    await expect(page.get_by_text("Could not read its dead letters")).to_have_count(0)
    await screenshot(page, "console-dead-letters")

    # Exactly the one clicked goes back to its topic, not the oldest pending one.
    letter_id = await row.get_attribute("data-dead-letter")
    older_row = section.locator("tbody tr", has_text=older).first
    await expect(older_row).to_contain_text("Pending")
    await row.get_by_role("button", name=f"Re-drive {letter_id} of query-projection").click()
    await expect(
        page.get_by_text(f"Re-drove dead letter {letter_id} of query-projection.")
    ).to_be_visible()
    ours = section.locator(f"tbody tr[data-dead-letter='{letter_id}']")
    await expect(ours).to_contain_text("Re-driven")
    await expect(ours.get_by_role("button")).to_have_count(0)
    await expect(older_row).to_contain_text("Pending")
    await screenshot(page, "console-dead-letter-redriven")
