"""At the door: what each scan answers, one admission under concurrent scans, offline
scans synced in order and once, who may scan, and how far check-in has got."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from ticketing_contracts.events import CancellationReason

from ..conftest import booking_id_of, event_id_of
from .conftest import as_manager, as_person

pytestmark = pytest.mark.integration

DOOR_USER = "door-7"


async def issued(entry, facts, *, quantity: int = 1, event=None):
    """An event (new unless given) with one confirmed booking; its tickets."""
    if event is None:
        event = facts.event_created()
        await entry.publish(event)
    booking = facts.confirmed(event, quantity=quantity)
    await entry.publish(booking)
    async with entry.client() as client:
        response = await client.get(f"/internal/v1/bookings/{booking_id_of(booking)}/tickets")
    return event, booking, response.json()["tickets"]


async def scan(entry, event, headers=None, **body):
    async with entry.client(headers) as client:
        return await client.post(
            f"/internal/v1/events/{event_id_of(event)}/check-ins",
            json={"entrance": "North gate", **body},
        )


async def test_a_valid_ticket_is_admitted_once_then_answers_when_and_where(entry, facts) -> None:
    event, _, (ticket,) = await issued(entry, facts)

    first = await scan(entry, event, qr_payload=ticket["qr_payload"])
    second = await scan(entry, event, code=ticket["code"], entrance="South gate")

    assert first.status_code == 200
    assert first.json()["result"] == "admitted"
    assert first.json()["holder_name"] == ticket["holder_name"]
    assert first.json()["ticket_type_name"] == ticket["ticket_type_name"]
    assert first.json()["entrance"] == "North gate"
    assert second.json()["result"] == "already_checked_in"
    assert second.json()["entrance"] == "North gate"
    assert second.json()["checked_in_at"] == first.json()["checked_in_at"]


async def test_twenty_doors_scanning_one_ticket_at_once_admit_it_once(entry, facts) -> None:
    event, _, (ticket,) = await issued(entry, facts)

    answers = await asyncio.gather(
        *(scan(entry, event, code=ticket["code"], entrance=f"Door {door}") for door in range(20))
    )

    results = sorted(answer.json()["result"] for answer in answers)
    assert results == ["admitted"] + ["already_checked_in"] * 19
    (admitted,) = [a.json() for a in answers if a.json()["result"] == "admitted"]
    assert {a.json()["entrance"] for a in answers} == {admitted["entrance"]}


async def test_a_voided_ticket_says_why(entry, facts) -> None:
    event, booking, (ticket,) = await issued(entry, facts)
    await entry.publish(facts.cancelled(booking, CancellationReason.EVENT_CANCELLED))

    answer = (await scan(entry, event, code=ticket["code"])).json()

    assert (answer["result"], answer["voided_reason"]) == ("voided", "event_cancelled")


async def test_a_ticket_of_another_event_is_the_wrong_event(entry, facts) -> None:
    event, _, _ = await issued(entry, facts)
    _, _, (elsewhere,) = await issued(entry, facts)

    by_payload = await scan(entry, event, qr_payload=elsewhere["qr_payload"])
    by_code = await scan(entry, event, code=elsewhere["code"])

    assert by_payload.json() == {**_empty_answer(), "result": "wrong_event"}
    assert by_code.json()["result"] == "wrong_event"


async def test_a_forged_or_unknown_ticket_is_not_a_ticket(entry, facts) -> None:
    event, _, (ticket,) = await issued(entry, facts)
    prefix, event_text, code, signature = ticket["qr_payload"].split(":")
    other_code = "A" * 24 if code != "A" * 24 else "B" * 24
    forged = ":".join((prefix, event_text, other_code, signature))

    answers = [
        await scan(entry, event, qr_payload=forged),
        await scan(entry, event, qr_payload="https://example.com/not-a-ticket"),
        await scan(entry, event, code="Q" * 24),
    ]

    assert [answer.json()["result"] for answer in answers] == ["not_a_ticket"] * 3
    # The real ticket is untouched.
    assert (await scan(entry, event, code=ticket["code"])).json()["result"] == "admitted"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "lowercase-is-not-a-code"},
        {"code": "A" * 23},
        {"code": "A" * 24, "qr_payload": "TKT1:x"},
        {},
        {"code": "A" * 24, "entrance": ""},
    ],
    ids=["malformed", "short", "both", "neither", "no-entrance"],
)
async def test_a_malformed_scan_is_refused_with_422_and_changes_nothing(entry, facts, body) -> None:
    event, _, (ticket,) = await issued(entry, facts)
    if "code" in body and body["code"] == "A" * 24:
        body = {**body, "code": ticket["code"]}

    answer = await scan(entry, event, **body)

    assert answer.status_code == 422
    assert answer.json()["error_type"] == "validation_error"
    assert answer.json()["detail"]
    assert (await scan(entry, event, code=ticket["code"])).json()["result"] == "admitted"


async def test_offline_scans_are_applied_in_the_order_they_happened(entry, facts) -> None:
    event, _, (ticket,) = await issued(entry, facts)
    at = datetime(2030, 6, 1, 19, 0, tzinfo=UTC)
    earlier, later = uuid4(), uuid4()
    # Listed out of order: the later scan first.
    body = {
        "entrance": "East gate",
        "scans": [
            _offline(later, at + timedelta(minutes=5), code=ticket["code"], admitted=True),
            _offline(earlier, at, qr_payload=ticket["qr_payload"], admitted=True),
        ],
    }

    synced = await sync(entry, event, body)

    assert synced.status_code == 200
    results = {UUID(r["scan_id"]): r for r in synced.json()["results"]}
    assert [r["scan_id"] for r in synced.json()["results"]] == [str(later), str(earlier)]
    assert results[earlier]["answer"]["result"] == "admitted"
    assert results[earlier]["conflict"] is False
    assert results[later]["answer"]["result"] == "already_checked_in"
    assert results[later]["conflict"] is True, "the scanner let a second person in"
    assert _instant(results[later]["answer"]["checked_in_at"]) == at
    assert results[later]["answer"]["entrance"] == "East gate"


async def test_a_scan_synced_twice_counts_once_and_answers_as_the_first_time(entry, facts) -> None:
    event, _, (first, second) = await issued(entry, facts, quantity=2)
    at = datetime(2030, 6, 1, 19, 0, tzinfo=UTC)
    scan_id = uuid4()
    body = {"entrance": "East gate", "scans": [_offline(scan_id, at, code=first["code"])]}
    once = await sync(entry, event, body)
    # Meanwhile the other ticket is scanned online; the first one is synced again.
    await scan(entry, event, code=second["code"])

    again = await sync(entry, event, body)

    assert again.json() == once.json()
    assert once.json()["results"][0]["answer"]["result"] == "admitted"
    progress = await check_in_progress(entry, event)
    assert progress["checked_in"] == 2


async def test_a_scanner_refusing_offline_is_no_conflict(entry, facts) -> None:
    event, booking, (ticket,) = await issued(entry, facts)
    await entry.publish(facts.refunded(booking))
    body = {
        "entrance": "East gate",
        "scans": [
            _offline(uuid4(), datetime.now(UTC), code=ticket["code"], admitted=False),
            _offline(uuid4(), datetime.now(UTC), code="Q" * 24, admitted=True),
        ],
    }

    results = (await sync(entry, event, body)).json()["results"]

    assert [(r["answer"]["result"], r["conflict"]) for r in results] == [
        ("voided", False),
        ("not_a_ticket", True),
    ]


async def test_a_sync_of_more_than_500_scans_is_refused_and_applies_none(entry, facts) -> None:
    event, _, (ticket,) = await issued(entry, facts)
    at = datetime.now(UTC)
    scans = [_offline(uuid4(), at, code=ticket["code"]) for _ in range(501)]

    refused = await sync(entry, event, {"entrance": "East gate", "scans": scans})

    assert refused.status_code == 422
    assert "500" in refused.json()["detail"]
    assert (await check_in_progress(entry, event))["checked_in"] == 0


async def test_only_door_staff_of_the_event_managers_and_admins_may_scan(entry, facts) -> None:
    event, _, (ticket,) = await issued(entry, facts)
    other_event, _, (other_ticket,) = await issued(entry, facts)
    door = as_person(DOOR_USER)

    refused = await scan(entry, event, door, code=ticket["code"])
    async with entry.client(as_manager()) as manager:
        assigned = await manager.put(
            f"/internal/v1/events/{event_id_of(event)}/door-staff/{DOOR_USER}"
        )
        listed = await manager.get(f"/internal/v1/events/{event_id_of(event)}/door-staff")
    admitted = await scan(entry, event, door, code=ticket["code"])
    elsewhere = await scan(entry, other_event, door, code=other_ticket["code"])
    async with entry.client(door) as client:
        data = await client.get(f"/internal/v1/events/{event_id_of(event)}/scanner-data")
        other_data = await client.get(
            f"/internal/v1/events/{event_id_of(other_event)}/scanner-data"
        )

    assert refused.status_code == 403
    assert refused.json()["error_type"] == "not_door_staff"
    assert assigned.status_code == 204
    assert listed.json() == {"event_id": str(event_id_of(event)), "user_ids": [DOOR_USER]}
    assert admitted.json()["result"] == "admitted"
    assert elsewhere.status_code == 403
    assert data.status_code == 200
    assert other_data.json()["error_type"] == "not_door_staff"


async def test_door_staff_removed_may_scan_no_more(entry, facts) -> None:
    event, _, (ticket,) = await issued(entry, facts)
    path = f"/internal/v1/events/{event_id_of(event)}/door-staff/{DOOR_USER}"
    async with entry.client(as_manager()) as manager:
        await manager.put(path)
        removed = await manager.delete(path)

    refused = await scan(entry, event, as_person(DOOR_USER), code=ticket["code"])

    assert removed.status_code == 204
    assert refused.json()["error_type"] == "not_door_staff"


async def test_only_managers_and_admins_assign_door_staff(entry, facts) -> None:
    event, _, _ = await issued(entry, facts)
    path = f"/internal/v1/events/{event_id_of(event)}/door-staff/{DOOR_USER}"
    async with entry.client(as_person(DOOR_USER)) as door:
        refused = await door.put(path)
        listing = await door.get(f"/internal/v1/events/{event_id_of(event)}/door-staff")

    assert refused.status_code == 403
    assert listing.status_code == 403


async def test_an_event_entry_has_not_seen_is_not_found(entry) -> None:
    unknown = uuid4()
    async with entry.client() as client:
        answers = [
            await client.post(
                f"/internal/v1/events/{unknown}/check-ins",
                json={"code": "A" * 24, "entrance": "North gate"},
            ),
            await client.get(f"/internal/v1/events/{unknown}/scanner-data"),
            await client.get(f"/internal/v1/events/{unknown}/check-in-progress"),
            await client.put(f"/internal/v1/events/{unknown}/door-staff/{DOOR_USER}"),
        ]

    assert [(a.status_code, a.json()["error_type"]) for a in answers] == [
        (404, "event_not_found")
    ] * 4


async def test_progress_counts_issued_checked_in_and_voided_per_ticket_type(entry, facts) -> None:
    event = facts.event_created(name="Counting Night", ticket_types=("Standing", "Balcony"))
    await entry.publish(event)
    standing = await issued(entry, facts, quantity=3, event=event)
    balcony_booking = facts.confirmed(
        event, quantity=2, ticket_type_id=UUID(event.data["ticket_types"][1]["ticket_type_id"])
    )
    await entry.publish(balcony_booking, facts.cancelled(balcony_booking))
    await scan(entry, event, code=standing[2][0]["code"])

    progress = await check_in_progress(entry, event)

    assert (progress["event_name"], progress["issued"], progress["checked_in"]) == (
        "Counting Night",
        3,
        1,
    )
    by_name = {p["name"]: p for p in progress["ticket_types"]}
    assert {name: (p["issued"], p["checked_in"], p["voided"]) for name, p in by_name.items()} == {
        "Standing": (3, 1, 0),
        "Balcony": (0, 0, 2),
    }


async def sync(entry, event, body, headers=None):
    async with entry.client(headers) as client:
        return await client.post(
            f"/internal/v1/events/{event_id_of(event)}/check-ins/sync", json=body
        )


async def check_in_progress(entry, event):
    async with entry.client() as client:
        response = await client.get(f"/internal/v1/events/{event_id_of(event)}/check-in-progress")
    assert response.status_code == 200, response.text
    return response.json()


def _offline(scan_id, at, *, admitted: bool = True, **ticket):
    return {
        "scan_id": str(scan_id),
        "scanned_at": at.isoformat(),
        "admitted_offline": admitted,
        **ticket,
    }


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _empty_answer() -> dict:
    return {
        "result": None,
        "ticket_id": None,
        "holder_name": None,
        "ticket_type_name": None,
        "checked_in_at": None,
        "entrance": None,
        "voided_reason": None,
    }
