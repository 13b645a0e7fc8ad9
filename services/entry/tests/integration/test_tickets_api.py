"""A booking's tickets: who sees them, the PDF with one readable QR code per valid ticket,
and re-issuing a ticket."""

from __future__ import annotations

import io

import pypdfium2
import pytest
import zxingcpp

from ..conftest import booking_id_of, event_id_of
from .conftest import (
    INVENTORY_PRIVATE_KEY,
    NOTIFICATIONS_PRIVATE_KEY,
    as_manager,
    as_person,
    as_service,
)

pytestmark = pytest.mark.integration


def as_owner() -> dict[str, str]:
    return as_person("fan-1")


async def confirmed(entry, facts, *, quantity: int = 2):
    event = facts.event_created(name="Harbour Lights")
    booking = facts.confirmed(event, quantity=quantity, owner_id="fan-1")
    await entry.publish(event, booking)
    return event, booking


async def get(entry, path, headers=None):
    async with entry.client(headers) as client:
        return await client.get(path)


def tickets_path(booking) -> str:
    return f"/internal/v1/bookings/{booking_id_of(booking)}/tickets"


async def test_the_owner_and_admins_see_a_bookings_tickets_and_nobody_else(entry, facts) -> None:
    _, booking = await confirmed(entry, facts)

    owner = await get(entry, tickets_path(booking), as_owner())
    admin = await get(entry, tickets_path(booking))
    stranger = await get(entry, tickets_path(booking), as_person("fan-2"))
    manager = await get(entry, tickets_path(booking), as_manager())

    assert owner.status_code == admin.status_code == 200
    assert owner.json() == admin.json()
    for refused in (stranger, manager):
        assert refused.status_code == 404
        assert refused.json()["error_type"] == "booking_not_found"


async def test_a_booking_not_confirmed_has_no_tickets_yet(entry, facts) -> None:
    event = facts.event_created()
    booking = facts.confirmed(event)  # never published

    answer = await get(entry, tickets_path(booking), as_owner())

    assert answer.status_code == 404
    assert answer.json()["error_type"] == "tickets_not_issued"


async def test_the_pdf_has_a_page_per_valid_ticket_whose_qr_code_reads_as_its_payload(
    entry, facts
) -> None:
    _, booking = await confirmed(entry, facts, quantity=3)
    tickets = (await get(entry, tickets_path(booking), as_owner())).json()["tickets"]
    async with entry.client() as admin:
        reissued = await admin.post(f"/internal/v1/tickets/{tickets[0]['ticket_id']}/reissue")
    tickets[0] = reissued.json()

    answer = await get(entry, tickets_path(booking) + ".pdf", as_owner())

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    assert read_qr_codes(answer.content) == [ticket["qr_payload"] for ticket in tickets]


async def test_voided_tickets_are_left_out_of_the_pdf_and_none_valid_is_409(entry, facts) -> None:
    _, booking = await confirmed(entry, facts, quantity=1)
    await entry.publish(facts.refunded(booking))

    answer = await get(entry, tickets_path(booking) + ".pdf", as_owner())

    assert answer.status_code == 409
    assert answer.json()["error_type"] == "no_valid_tickets"


async def test_the_notifications_service_may_fetch_the_pdf_and_no_other_service(
    entry, facts
) -> None:
    _, booking = await confirmed(entry, facts, quantity=1)
    pdf = tickets_path(booking) + ".pdf"

    notifications = await get(entry, pdf, as_service("notifications", NOTIFICATIONS_PRIVATE_KEY))
    inventory = await get(entry, pdf, as_service("inventory", INVENTORY_PRIVATE_KEY))
    inventory_list = await get(
        entry, tickets_path(booking), as_service("inventory", INVENTORY_PRIVATE_KEY)
    )
    stranger = await get(entry, pdf, as_person("fan-2"))
    unsigned = await get(entry, pdf, {})

    assert notifications.status_code == 200
    assert notifications.content.startswith(b"%PDF")
    assert inventory.status_code == 403
    assert inventory_list.status_code == 403
    assert stranger.json()["error_type"] == "booking_not_found"
    assert unsigned.status_code == 401


async def test_a_reissued_ticket_keeps_its_id_and_its_old_code_is_voided(entry, facts) -> None:
    event, booking = await confirmed(entry, facts, quantity=1)
    (ticket,) = (await get(entry, tickets_path(booking), as_owner())).json()["tickets"]

    async with entry.client() as admin:
        answer = await admin.post(f"/internal/v1/tickets/{ticket['ticket_id']}/reissue")
        check_ins = f"/internal/v1/events/{event_id_of(event)}/check-ins"
        old_code = await admin.post(check_ins, json={"code": ticket["code"], "entrance": "A"})
        old_payload = await admin.post(
            check_ins, json={"qr_payload": ticket["qr_payload"], "entrance": "A"}
        )
        new_code = await admin.post(
            check_ins, json={"code": answer.json()["code"], "entrance": "A"}
        )
        scanner = await admin.get(f"/internal/v1/events/{event_id_of(event)}/scanner-data")

    assert answer.status_code == 200
    reissued = answer.json()
    assert reissued["ticket_id"] == ticket["ticket_id"]
    assert reissued["code"] != ticket["code"]
    assert reissued["qr_payload"] != ticket["qr_payload"]
    for refused in (old_code, old_payload):
        assert (refused.json()["result"], refused.json()["voided_reason"]) == (
            "voided",
            "reissued",
        )
    assert new_code.json()["result"] == "admitted"
    statuses = {t["code"]: t["status"] for t in scanner.json()["tickets"]}
    assert statuses == {ticket["code"]: "voided", reissued["code"]: "checked_in"}


async def test_only_admins_reissue_and_only_valid_tickets(entry, facts) -> None:
    event, booking = await confirmed(entry, facts, quantity=2)
    first, second = (await get(entry, tickets_path(booking), as_owner())).json()["tickets"]
    async with entry.client() as admin:
        await admin.post(
            f"/internal/v1/events/{event_id_of(event)}/check-ins",
            json={"code": first["code"], "entrance": "A"},
        )
    await entry.publish(facts.cancelled(booking))

    async with entry.client(as_owner()) as owner:
        by_owner = await owner.post(f"/internal/v1/tickets/{second['ticket_id']}/reissue")
    async with entry.client() as admin:
        checked_in = await admin.post(f"/internal/v1/tickets/{first['ticket_id']}/reissue")
        voided = await admin.post(f"/internal/v1/tickets/{second['ticket_id']}/reissue")
        unknown = await admin.post(f"/internal/v1/tickets/{booking_id_of(booking)}/reissue")

    assert (by_owner.status_code, by_owner.json()["error_type"]) == (403, "forbidden")
    assert (checked_in.status_code, checked_in.json()["error_type"]) == (409, "ticket_checked_in")
    assert (voided.status_code, voided.json()["error_type"]) == (409, "ticket_voided")
    assert (unknown.status_code, unknown.json()["error_type"]) == (404, "ticket_not_found")


def read_qr_codes(pdf: bytes) -> list[str]:
    """The text of the QR code on each page, in page order."""
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    texts = []
    for page in document:
        image = page.render(scale=3).to_pil()
        (code,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        texts.append(code.text)
    return texts
