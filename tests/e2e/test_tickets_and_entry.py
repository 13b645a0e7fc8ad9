"""Tickets that get people in, across the whole stack: a fan books, the confirmation
e-mail reaches the SMTP server with the tickets' PDF, the QR code read back from that PDF
checks the holder in once at the door, a cancelled booking's ticket is refused, and a
notifications service that was killed sends each e-mail once after it restarts."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from typing import Any

import httpx
import pypdfium2
import pytest
import zxingcpp

from local_infra.stack_state import StackInfo

from .caught_mail import attachment, caught_mail, mail_with_subject
from .platform_api import Fan, Show, book, eventually, published_show, register_fan, wait_for_status
from .stack_helpers import admin_headers

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 60
NOTIFICATIONS = "notifications"


def fan_address() -> str:
    return f"fan-{uuid.uuid4().hex[:12]}@example.com"


def qr_payloads_in(pdf: bytes) -> list[str]:
    """What a phone camera would read off each page of the PDF."""
    document = pypdfium2.PdfDocument(pdf)
    payloads: list[str] = []
    for page in document:
        image = page.render(scale=3).to_pil()
        payloads.extend(
            barcode.text
            for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        )
    return payloads


async def confirmed_booking(
    client: httpx.AsyncClient, fan: Fan, show: Show, quantity: int, name: str, email: str
) -> str:
    booking_id = await book(
        client,
        fan.headers,
        show.event_id,
        show.ticket_type("Stalls"),
        quantity,
        customer_name=name,
        customer_email=email,
    )
    await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"}, within=SETTLE_SECONDS)
    return booking_id


async def door_staff_for(
    client: httpx.AsyncClient, stack: StackInfo, event_id: str, name: str
) -> Fan:
    steward = await register_fan(client, name)
    assigned = await client.put(
        f"/api/v1/events/{event_id}/door-staff/{steward.user_id}",
        headers=await admin_headers(client, stack),
    )
    assert assigned.status_code == 204, assigned.text
    return steward


async def scan(
    client: httpx.AsyncClient, steward: Fan, event_id: str, entrance: str, **ticket: str
) -> dict[str, Any]:
    answer = await client.post(
        f"/api/v1/events/{event_id}/check-ins",
        json={"entrance": entrance, **ticket},
        headers=steward.headers,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_an_emailed_ticket_gets_its_holder_in_once_and_a_cancelled_one_is_refused(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(client, admin, {"Stalls": 20}, name="Door Night")
    zoe, zoe_email = await register_fan(client, "Zoë O'Brien"), fan_address()
    booking_id = await confirmed_booking(client, zoe, show, 2, "Zoë O'Brien", zoe_email)

    confirmation = await mail_with_subject(running_stack, zoe_email, "Your tickets for Door Night")
    (pdf_index,) = [
        index
        for index, part in enumerate(confirmation["attachments"])
        if part["content_type"] == "application/pdf"
    ]
    payloads = qr_payloads_in(await attachment(running_stack, confirmation, pdf_index))
    issued = await client.get(f"/api/v1/bookings/{booking_id}/tickets", headers=zoe.headers)
    assert sorted(payloads) == sorted(ticket["qr_payload"] for ticket in issued.json()["tickets"])

    steward = await door_staff_for(client, running_stack, show.event_id, "Sid Steward")
    first = await scan(client, steward, show.event_id, "North gate", qr_payload=payloads[0])
    assert first["result"] == "admitted"
    assert (first["holder_name"], first["ticket_type_name"]) == ("Zoë O'Brien", "Stalls")
    again = await scan(client, steward, show.event_id, "South gate", qr_payload=payloads[0])
    assert again["result"] == "already_checked_in"
    assert again["entrance"] == "North gate"
    assert again["checked_in_at"] == first["checked_in_at"]

    ben, ben_email = await register_fan(client, "Ben Late"), fan_address()
    cancelled_id = await confirmed_booking(client, ben, show, 1, "Ben Late", ben_email)
    ben_mail = await mail_with_subject(running_stack, ben_email, "Your tickets for Door Night")
    (ben_payload,) = qr_payloads_in(await attachment(running_stack, ben_mail, 0))
    cancelled = await client.post(f"/api/v1/bookings/{cancelled_id}/cancel", headers=ben.headers)
    assert cancelled.status_code == 200, cancelled.text
    await mail_with_subject(running_stack, ben_email, "Your booking for Door Night is cancelled")

    refused = await eventually(
        lambda: scan(client, steward, show.event_id, "North gate", qr_payload=ben_payload),
        lambda answer: answer["result"] != "admitted",
        within=SETTLE_SECONDS,
        what="the cancelled ticket refused",
    )
    assert (refused["result"], refused["voided_reason"]) == ("voided", "booking_cancelled")

    progress = await client.get(
        f"/api/v1/events/{show.event_id}/check-in-progress", headers=steward.headers
    )
    assert (progress.json()["issued"], progress.json()["checked_in"]) == (2, 1)


async def test_twenty_doors_scanning_one_ticket_at_once_admit_it_once(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await published_show(client, admin, {"Stalls": 5}, name="Crowded Door")
    fan = await register_fan(client, "Ada Fan")
    booking_id = await confirmed_booking(client, fan, show, 1, "Ada Fan", fan_address())
    tickets = await eventually(
        lambda: client.get(f"/api/v1/bookings/{booking_id}/tickets", headers=fan.headers),
        lambda answer: answer.status_code == 200,
        within=SETTLE_SECONDS,
        what="tickets issued",
    )
    code = tickets.json()["tickets"][0]["code"]
    steward = await door_staff_for(client, running_stack, show.event_id, "Sid Steward")

    answers = await asyncio.gather(
        *(scan(client, steward, show.event_id, f"Door {door}", code=code) for door in range(20))
    )

    assert Counter(answer["result"] for answer in answers) == {
        "admitted": 1,
        "already_checked_in": 19,
    }


async def test_a_killed_notifications_service_sends_each_email_once_after_it_restarts(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    assert running_stack.control is not None
    admin = await admin_headers(client, running_stack)
    show = await published_show(client, admin, {"Stalls": 20}, name="Quiet Mailroom")
    names = ("Ann Fan", "Bea Fan", "Cy Fan")
    fans = [(await register_fan(client, name), fan_address()) for name in names]

    await running_stack.control.kill_service(NOTIFICATIONS, signal.SIGKILL)
    try:
        for name, (fan, email) in zip(names, fans, strict=True):
            await confirmed_booking(client, fan, show, 1, name, email)
        for _, email in fans:
            assert await caught_mail(running_stack, email) == [], "sent while killed"
    finally:
        await running_stack.control.start_service(NOTIFICATIONS)

    for _, email in fans:
        await mail_with_subject(running_stack, email, "Your tickets for Quiet Mailroom")
    # A later booking's mail arriving means the sender has gone past everything before it.
    last_fan, last_email = await register_fan(client, "Dee Fan"), fan_address()
    await confirmed_booking(client, last_fan, show, 1, "Dee Fan", last_email)
    await mail_with_subject(running_stack, last_email, "Your tickets for Quiet Mailroom")

    for _, email in [*fans, (last_fan, last_email)]:
        received = await caught_mail(running_stack, email)
        assert len(received) == 1, [message["subject"] for message in received]
