"""Tickets follow the booking facts: issued once per confirmed seat, voided when the
booking is cancelled or refunded or the event is cancelled."""

from __future__ import annotations

import re
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ticketing_contracts.events import CancellationReason
from ticketing_contracts.tickets import b64url_decode, parse_qr_payload, signed_message

from ..conftest import booking_id_of, event_id_of
from .conftest import as_person

pytestmark = pytest.mark.integration


async def booking_tickets(entry, booking, headers=None) -> dict:
    async with entry.client(headers) as client:
        response = await client.get(f"/internal/v1/bookings/{booking_id_of(booking)}/tickets")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_confirmed_booking_of_three_gets_three_tickets_signed_for_its_event(
    entry, facts
) -> None:
    event = facts.event_created(name="Harbour Lights", ticket_types=("Standing",))
    booking = facts.confirmed(event, quantity=3, holder="Zoë O'Brien")
    await entry.publish(event, booking)

    body = await booking_tickets(entry, booking)
    async with entry.client() as client:
        scanner = (
            await client.get(f"/internal/v1/events/{event_id_of(event)}/scanner-data")
        ).json()

    assert body["event_name"] == "Harbour Lights"
    tickets = body["tickets"]
    assert len(tickets) == 3
    assert len({ticket["code"] for ticket in tickets}) == 3
    assert len({ticket["ticket_id"] for ticket in tickets}) == 3
    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(scanner["public_key"]))
    for ticket in tickets:
        assert re.fullmatch(r"[A-Z2-7]{24}", ticket["code"])
        assert ticket["status"] == "valid"
        assert ticket["holder_name"] == "Zoë O'Brien"
        assert ticket["ticket_type_name"] == "Standing"
        parsed = parse_qr_payload(ticket["qr_payload"])
        assert parsed is not None
        assert (parsed.event_id, parsed.code) == (event_id_of(event), ticket["code"])
        public_key.verify(parsed.signature, signed_message(parsed.event_id, parsed.code))


async def test_a_redelivered_confirmation_issues_nothing_new(entry, facts) -> None:
    event = facts.event_created()
    booking = facts.confirmed(event, quantity=2)
    await entry.publish(event, booking)
    first = await booking_tickets(entry, booking)

    # The same fact again, at a later offset (a producer retry, a re-driven dead letter).
    results = await entry.publish(booking)

    assert sum(result.issued for result in results) == 0
    assert await booking_tickets(entry, booking) == first


async def test_a_batch_read_again_from_an_old_position_is_skipped(entry, facts) -> None:
    event = facts.event_created()
    booking = facts.confirmed(event, quantity=2)
    batches = entry.log.batches([event, booking])
    for batch in batches:
        await entry.apply_facts(batch)

    again = [await entry.apply_facts(batch) for batch in batches]

    assert [result.applied for result in again] == [0] * len(batches)
    assert len((await booking_tickets(entry, booking))["tickets"]) == 2


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        (lambda facts, booking: facts.cancelled(booking), "booking_cancelled"),
        (
            lambda facts, booking: facts.cancelled(booking, CancellationReason.EVENT_CANCELLED),
            "event_cancelled",
        ),
        (lambda facts, booking: facts.refunded(booking), "payment_refunded"),
    ],
    ids=["cancelled", "cancelled-with-its-event", "refunded"],
)
async def test_a_cancelled_or_refunded_booking_has_its_tickets_voided(
    entry, facts, end, reason
) -> None:
    event = facts.event_created()
    booking = facts.confirmed(event, quantity=2)
    await entry.publish(event, booking, end(facts, booking))

    tickets = (await booking_tickets(entry, booking))["tickets"]

    assert [(t["status"], t["voided_reason"]) for t in tickets] == [("voided", reason)] * 2


async def test_a_cancelled_event_voids_every_ticket_not_yet_checked_in(entry, facts) -> None:
    event = facts.event_created()
    other_event = facts.event_created()
    first, second = facts.confirmed(event, quantity=1), facts.confirmed(event, quantity=2)
    elsewhere = facts.confirmed(other_event, quantity=1)
    await entry.publish(event, other_event, first, second, elsewhere)
    inside = (await booking_tickets(entry, first))["tickets"][0]
    async with entry.client() as client:
        scan = await client.post(
            f"/internal/v1/events/{event_id_of(event)}/check-ins",
            json={"code": inside["code"], "entrance": "North gate"},
        )
    assert scan.json()["result"] == "admitted"

    await entry.publish(facts.event_cancelled(event_id_of(event)))

    assert (await booking_tickets(entry, first))["tickets"][0]["status"] == "checked_in"
    assert [t["voided_reason"] for t in (await booking_tickets(entry, second))["tickets"]] == [
        "event_cancelled",
        "event_cancelled",
    ]
    assert (await booking_tickets(entry, elsewhere))["tickets"][0]["status"] == "valid"


async def test_a_confirmation_that_arrives_before_its_event_is_kept_until_the_event_is_known(
    entry, facts
) -> None:
    event = facts.event_created(name="Early Bird", ticket_types=("Seated",))
    booking = facts.confirmed(event, quantity=2)
    await entry.publish(booking)

    async with entry.client() as client:
        waiting = await client.get(f"/internal/v1/bookings/{booking_id_of(booking)}/tickets")
    assert waiting.status_code == 404
    assert waiting.json()["error_type"] == "tickets_not_issued"

    await entry.publish(event)

    tickets = (await booking_tickets(entry, booking))["tickets"]
    assert [t["ticket_type_name"] for t in tickets] == ["Seated", "Seated"]


async def test_catalog_changes_show_on_the_tickets(entry, facts) -> None:
    event = facts.event_created(name="Old Name")
    added = facts.ticket_type_added(event_id_of(event), "VIP")
    booking = facts.confirmed(event, quantity=1, ticket_type_id=_type_id(added))
    await entry.publish(event, added, booking, facts.renamed(event_id_of(event), "New Name"))

    body = await booking_tickets(entry, booking, as_person("fan-1"))

    assert body["event_name"] == "New Name"
    assert body["tickets"][0]["ticket_type_name"] == "VIP"


def _type_id(added):
    return UUID(added.data["ticket_type"]["ticket_type_id"])
