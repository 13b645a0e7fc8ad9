"""Tickets in headless Chromium against the running stack: a fan's tickets with their QR
codes and PDF in the shop, the door scanner online and offline, the console's check-in
progress."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from local_infra.stack_state import StackInfo

from ..platform_api import (
    Fan,
    Show,
    book,
    eventually,
    published_show,
    register_fan,
    wait_for_status,
)
from ..stack_helpers import PASSWORD, admin_headers
from .conftest import screenshot

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 60


async def confirmed_tickets(
    client: httpx.AsyncClient, fan: Fan, show: Show, quantity: int
) -> tuple[str, list[dict[str, Any]]]:
    """A confirmed booking of the show's first ticket type and its issued tickets."""
    booking_id = await book(
        client, fan.headers, show.event_id, next(iter(show.ticket_types.values())), quantity
    )
    await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"}, within=SETTLE_SECONDS)

    async def tickets() -> httpx.Response:
        return await client.get(f"/api/v1/bookings/{booking_id}/tickets", headers=fan.headers)

    issued = await eventually(
        tickets, lambda answer: answer.status_code == 200, within=SETTLE_SECONDS, what="tickets"
    )
    return booking_id, issued.json()["tickets"]


async def manager(client: httpx.AsyncClient, stack: StackInfo) -> Fan:
    account = await register_fan(client, "Mia Manager")
    granted = await client.put(
        f"/api/v1/users/{account.user_id}/role",
        json={"role": "manager"},
        headers=await admin_headers(client, stack),
    )
    assert granted.status_code == 200, granted.text
    return account


async def log_in_on(page: Page, url: str, email: str) -> None:
    await page.goto(url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_the_shop_shows_a_confirmed_bookings_tickets_with_qr_codes_and_a_pdf(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(client, admin, {"Stalls": 20}, name="Ticket Night")
    fan = await register_fan(client, "Ada Fan")
    booking_id, tickets = await confirmed_tickets(client, fan, show, 2)

    await log_in_on(page, f"{web_url}/#/login?next=%23%2Fbookings", fan.email)
    await page.get_by_text("Show tickets").click()
    cards = page.locator(f"details[data-booking-id='{booking_id}'] .ticket")
    await expect(cards).to_have_count(2)
    for ticket in tickets:
        card = page.locator(f".ticket[data-code='{ticket['code']}']")
        await expect(card).to_contain_text(ticket["code"])
        await expect(card).to_contain_text("Valid")
        await expect(card).to_contain_text("Stalls")
        drawn = Image.open(io.BytesIO(await card.locator("svg.qr").screenshot()))
        assert [
            found.text
            for found in zxingcpp.read_barcodes(drawn, formats=zxingcpp.BarcodeFormat.QRCode)
        ] == [ticket["qr_payload"]]
    await screenshot(page, "shop-tickets")

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download tickets (PDF)").click()
    download = await downloading.value
    assert download.suggested_filename == f"tickets-{booking_id}.pdf"
    with open(await download.path(), "rb") as pdf:  # noqa: ASYNC230 (a small local file)
        assert pdf.read(5) == b"%PDF-"


async def test_door_staff_scan_online_then_offline_and_see_the_conflict_after_syncing(
    page: Page,
    browser_context: BrowserContext,
    web_url: str,
    client: httpx.AsyncClient,
    running_stack: StackInfo,
) -> None:
    organiser = await manager(client, running_stack)
    show = await published_show(client, organiser.headers, {"Standing": 20}, name="Door Night")
    fan = await register_fan(client, "Sam Fan")
    _, tickets = await confirmed_tickets(client, fan, show, 3)
    first, second, third = tickets
    door = await register_fan(client, "Dora Door")
    assigned = await client.put(
        f"/api/v1/events/{show.event_id}/door-staff/{door.user_id}", headers=organiser.headers
    )
    assert assigned.status_code == 204, assigned.text

    await log_in_on(page, f"{web_url}/scanner", door.email)
    await page.get_by_label("Event id").fill(show.event_id)
    await page.get_by_role("button", name="Download and start scanning").click()
    await expect(page.get_by_role("heading", name="Door Night")).to_be_visible()
    scan_input = page.get_by_label("Ticket code or QR payload")
    result = page.locator("#scan-result")

    await scan_input.fill(first["qr_payload"])
    await scan_input.press("Enter")
    await expect(result).to_have_attribute("data-result", "admitted")
    await expect(result).to_contain_text(first["holder_name"])
    await screenshot(page, "scanner-admitted-online")

    # Another door checks the third ticket in while this scanner is about to lose its network.
    elsewhere = await client.post(
        f"/api/v1/events/{show.event_id}/check-ins",
        json={"code": third["code"], "entrance": "South gate"},
        headers=organiser.headers,
    )
    assert elsewhere.json()["result"] == "admitted", elsewhere.text

    await browser_context.set_offline(True)
    await expect(page.locator("#connection")).to_have_text("Offline")
    for ticket in (second, third):
        await scan_input.fill(ticket["qr_payload"])
        await scan_input.press("Enter")
        await expect(result).to_have_attribute("data-result", "admitted")
        await expect(result).to_contain_text("Decided offline")
    await expect(page.locator("#queue-length")).to_have_text("2")
    await scan_input.fill(second["qr_payload"])
    await scan_input.press("Enter")
    await expect(result).to_have_attribute("data-result", "already_checked_in")
    await screenshot(page, "scanner-offline")

    await browser_context.set_offline(False)
    await page.get_by_role("button", name="Sync now").click()
    await expect(page.locator("#queue-length")).to_have_text("0")
    conflicts = page.locator("#conflicts li")
    await expect(conflicts).to_have_count(1)
    await expect(conflicts).to_contain_text(third["code"])
    await expect(conflicts).to_contain_text("Already checked in")
    await expect(conflicts).to_contain_text("South gate")
    await screenshot(page, "scanner-conflict")

    progress = await client.get(
        f"/api/v1/events/{show.event_id}/check-in-progress", headers=organiser.headers
    )
    assert progress.json()["checked_in"] == 3, progress.text


async def test_the_console_shows_check_in_progress_moving_and_assigns_door_staff(
    page: Page, web_url: str, client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    organiser = await manager(client, running_stack)
    name = f"Progress Night {uuid.uuid4().hex[:6]}"
    show = await published_show(client, organiser.headers, {"Seated": 20}, name=name)
    fan = await register_fan(client)
    _, tickets = await confirmed_tickets(client, fan, show, 2)
    door = await register_fan(client, "Dora Door")

    await log_in_on(page, f"{web_url}/console#/events", organiser.email)
    await page.get_by_role("link", name=f"Check-in of {name}").click()
    await expect(page.locator("#checked-in")).to_have_text("0 / 2")
    await page.get_by_label("Account id").fill(door.user_id)
    await page.get_by_role("button", name="Add to door staff").click()
    await expect(page.locator(f"#door-staff li[data-user-id='{door.user_id}']")).to_be_visible()

    scanned = await client.post(
        f"/api/v1/events/{show.event_id}/check-ins",
        json={"code": tickets[0]["code"], "entrance": "North gate"},
        headers=door.headers,
    )
    assert scanned.json()["result"] == "admitted", scanned.text
    await expect(page.locator("#checked-in")).to_have_text("1 / 2")
    await expect(page.locator("tr[data-ticket-type='Seated'] progress")).to_have_attribute(
        "value", "1"
    )
    await screenshot(page, "console-check-in")
