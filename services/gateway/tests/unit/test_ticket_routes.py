"""The ticket and check-in routes: forwarded to entry with the caller's credential, bodies
checked here first, the global roles checked here (door-staff assignment, re-issue), entry's
answers and errors passed on whole."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .conftest import ENTRY, caller_of

EVENT_ID = str(uuid.uuid4())
CODE = "K7QW2M4XZT5R6YB3N5P2H4LC"
PAYLOAD = f"TKT1:{EVENT_ID}:{CODE}:" + "A" * 86
PDF = b"%PDF-1.7 two tickets"


def _error(status: int, error_type: str, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail, "error_type": error_type})


def a_ticket(booking_id: str, status: str = "valid") -> dict[str, Any]:
    return {
        "ticket_id": str(uuid.uuid4()),
        "booking_id": booking_id,
        "event_id": EVENT_ID,
        "ticket_type_id": str(uuid.uuid4()),
        "ticket_type_name": "Standing",
        "holder_name": "Zoë O'Brien",
        "code": CODE,
        "qr_payload": PAYLOAD,
        "status": status,
        "issued_at": "2030-01-01T20:00:00Z",
    }


@dataclass
class FakeEntry:
    """Answers like entry's internal routes, deciding by the caller the gateway names."""

    bookings: dict[str, str] = field(default_factory=dict)  # booking id -> owner id
    pending: set[str] = field(default_factory=set)
    door_staff: dict[str, set[str]] = field(default_factory=lambda: {EVENT_ID: set()})
    received: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/health/"):
            return httpx.Response(200, json={"status": "ready"})
        self.received.append(request)
        caller, role = caller_of(request)
        parts = request.url.path.removeprefix("/internal/v1/").split("/")
        if parts[0] == "bookings":
            return self._bookings(parts[1], parts[2], caller, role)
        if parts[0] == "tickets":
            ticket = a_ticket(str(uuid.uuid4())) | {"ticket_id": parts[1]}
            return httpx.Response(200, json=ticket | {"code": "ABCDEFGHIJKLMNOPQRSTUVWX"})
        event_id, route = parts[1], "/".join(parts[2:])
        if event_id not in self.door_staff:
            return _error(404, "event_not_found", f"Event {event_id} not found")
        staff = self.door_staff[event_id]
        if route.startswith("door-staff"):
            if request.method == "PUT":
                staff.add(parts[3])
            elif request.method == "DELETE":
                staff.discard(parts[3])
            else:
                return httpx.Response(200, json={"event_id": event_id, "user_ids": sorted(staff)})
            return httpx.Response(204)
        if caller not in staff and role not in ("manager", "admin"):
            return _error(403, "not_door_staff", "You are not door staff of this event")
        if route == "check-ins":
            return httpx.Response(200, json={"result": "admitted", "holder_name": "Zoë O'Brien"})
        if route == "check-ins/sync":
            scans = json.loads(request.content)["scans"]
            answer = {"result": "already_checked_in", "entrance": "North gate"}
            results = [{"scan_id": s["scan_id"], "answer": answer, "conflict": True} for s in scans]
            return httpx.Response(200, json={"results": results})
        if route == "scanner-data":
            return httpx.Response(
                200,
                json={
                    "event_id": event_id,
                    "event_name": "Late Show",
                    "key_algorithm": "Ed25519",
                    "public_key": "A" * 43,
                    "generated_at": "2030-01-01T20:00:00Z",
                    "tickets": [],
                },
            )
        progress = {"event_id": event_id, "event_name": "Late Show", "ticket_types": []}
        return httpx.Response(200, json=progress | {"issued": 2, "checked_in": 1})

    def _bookings(self, booking_id: str, resource: str, caller: str, role: str) -> httpx.Response:
        owner = self.bookings.get(booking_id)
        if owner is None or (owner != caller and role != "admin"):
            return _error(404, "booking_not_found", f"Booking {booking_id} not found")
        if booking_id in self.pending:
            return _error(404, "tickets_not_issued", "The tickets are not issued yet")
        if resource == "tickets.pdf":
            return httpx.Response(200, content=PDF, headers={"Content-Type": "application/pdf"})
        tickets = [a_ticket(booking_id), a_ticket(booking_id, "voided")]
        return httpx.Response(
            200,
            json={
                "booking_id": booking_id,
                "event_id": EVENT_ID,
                "event_name": "Late Show",
                "tickets": tickets,
            },
        )


@pytest.fixture
def entry(gateway) -> FakeEntry:
    fake = FakeEntry()
    gateway.backend.scripted[ENTRY] = fake.handle
    return fake


async def test_the_owner_sees_the_tickets_entry_issued_for_their_booking(gateway, entry) -> None:
    user_id, headers = await gateway.user_with_id()
    booking_id = str(uuid.uuid4())
    entry.bookings[booking_id] = user_id
    response = await gateway.client.get(f"/api/v1/bookings/{booking_id}/tickets", headers=headers)
    assert response.status_code == 200
    tickets = response.json()["tickets"]
    assert [ticket["status"] for ticket in tickets] == ["valid", "voided"]
    assert tickets[0]["qr_payload"] == PAYLOAD
    assert caller_of(entry.received[-1]) == (user_id, "user")


async def test_someone_elses_booking_has_no_tickets_to_see(gateway, entry) -> None:
    booking_id = str(uuid.uuid4())
    entry.bookings[booking_id] = "another-fan"
    headers = await gateway.headers_for("user")
    response = await gateway.client.get(f"/api/v1/bookings/{booking_id}/tickets", headers=headers)
    assert response.status_code == 404
    assert response.json()["error_type"] == "booking_not_found"


async def test_tickets_not_yet_issued_say_so(gateway, entry) -> None:
    user_id, headers = await gateway.user_with_id()
    booking_id = str(uuid.uuid4())
    entry.bookings[booking_id] = user_id
    entry.pending.add(booking_id)
    response = await gateway.client.get(f"/api/v1/bookings/{booking_id}/tickets", headers=headers)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "The tickets are not issued yet",
        "error_type": "tickets_not_issued",
    }


async def test_the_tickets_pdf_downloads_as_an_attachment(gateway, entry) -> None:
    user_id, headers = await gateway.user_with_id()
    booking_id = str(uuid.uuid4())
    entry.bookings[booking_id] = user_id
    response = await gateway.client.get(
        f"/api/v1/bookings/{booking_id}/tickets.pdf", headers=headers
    )
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="tickets-{booking_id}.pdf"'
    )


async def test_a_pdf_of_no_valid_tickets_is_refused_as_entry_says(gateway, entry) -> None:
    user_id, headers = await gateway.user_with_id()
    booking_id = str(uuid.uuid4())
    entry.bookings[booking_id] = user_id
    gateway.backend.scripted[ENTRY] = lambda _: _error(409, "no_valid_tickets", "All voided")
    response = await gateway.client.get(
        f"/api/v1/bookings/{booking_id}/tickets.pdf", headers=headers
    )
    assert response.status_code == 409
    assert response.json()["error_type"] == "no_valid_tickets"


@pytest.mark.parametrize("role", ["user", "manager"])
async def test_only_admins_reissue_a_ticket(gateway, entry, role) -> None:
    headers = await gateway.headers_for(role)
    response = await gateway.client.post(f"/api/v1/tickets/{uuid.uuid4()}/reissue", headers=headers)
    assert response.status_code == 403
    assert entry.received == []


async def test_an_admin_reissues_a_ticket_with_a_new_code(gateway, entry, admin_headers) -> None:
    ticket_id = str(uuid.uuid4())
    response = await gateway.client.post(
        f"/api/v1/tickets/{ticket_id}/reissue", headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["ticket_id"] == ticket_id
    assert response.json()["code"] != CODE
    assert response.headers["Cache-Control"] == "no-store"


async def test_reissuing_a_checked_in_ticket_is_refused_as_entry_says(
    gateway, entry, admin_headers
) -> None:
    gateway.backend.scripted[ENTRY] = lambda _: _error(409, "ticket_checked_in", "Checked in")
    response = await gateway.client.post(
        f"/api/v1/tickets/{uuid.uuid4()}/reissue", headers=admin_headers
    )
    assert response.status_code == 409
    assert response.json()["error_type"] == "ticket_checked_in"


async def test_a_manager_assigns_and_removes_door_staff(gateway, entry, manager_headers) -> None:
    door = f"/api/v1/events/{EVENT_ID}/door-staff"
    assigned = await gateway.client.put(f"{door}/steward-7", headers=manager_headers)
    assert assigned.status_code == 204
    listed = await gateway.client.get(door, headers=manager_headers)
    assert listed.json() == {"event_id": EVENT_ID, "user_ids": ["steward-7"]}
    removed = await gateway.client.delete(f"{door}/steward-7", headers=manager_headers)
    assert removed.status_code == 204
    assert (await gateway.client.get(door, headers=manager_headers)).json()["user_ids"] == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_a_plain_user_may_not_touch_door_staff(gateway, entry, user_headers, method) -> None:
    path = f"/api/v1/events/{EVENT_ID}/door-staff" + ("" if method == "GET" else "/someone")
    response = await gateway.client.request(method, path, headers=user_headers)
    assert response.status_code == 403
    assert entry.received == []


async def test_door_staff_of_the_event_check_tickets_in(gateway, entry) -> None:
    user_id, headers = await gateway.user_with_id()
    entry.door_staff[EVENT_ID].add(user_id)
    scan = {"qr_payload": PAYLOAD, "entrance": " North gate "}
    response = await gateway.client.post(
        f"/api/v1/events/{EVENT_ID}/check-ins", json=scan, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["result"] == "admitted"
    sent = json.loads(entry.received[-1].content)
    assert sent == {"qr_payload": PAYLOAD, "entrance": "North gate"}
    assert caller_of(entry.received[-1]) == (user_id, "user")


async def test_someone_not_on_the_door_is_refused_by_entry(gateway, entry, user_headers) -> None:
    for path, body in [
        ("check-ins", {"code": CODE, "entrance": "North gate"}),
        ("check-ins/sync", {"entrance": "North gate", "scans": [an_offline_scan()]}),
        ("scanner-data", None),
        ("check-in-progress", None),
    ]:
        url = f"/api/v1/events/{EVENT_ID}/{path}"
        response = await (
            gateway.client.get(url, headers=user_headers)
            if body is None
            else gateway.client.post(url, json=body, headers=user_headers)
        )
        assert response.status_code == 403, path
        assert response.json()["error_type"] == "not_door_staff"


async def test_an_event_entry_does_not_know_is_not_found(gateway, entry, manager_headers) -> None:
    response = await gateway.client.get(
        f"/api/v1/events/{uuid.uuid4()}/scanner-data", headers=manager_headers
    )
    assert response.status_code == 404
    assert response.json()["error_type"] == "event_not_found"


def an_offline_scan(**changes: Any) -> dict[str, Any]:
    return {
        "scan_id": str(uuid.uuid4()),
        "qr_payload": PAYLOAD,
        "scanned_at": "2030-01-01T20:00:00Z",
        "admitted_offline": True,
        **changes,
    }


async def test_offline_scans_are_synced_and_their_conflicts_answered(
    gateway, entry, manager_headers
) -> None:
    scans = [an_offline_scan(), an_offline_scan(qr_payload=None, code=CODE)]
    response = await gateway.client.post(
        f"/api/v1/events/{EVENT_ID}/check-ins/sync",
        json={"entrance": "North gate", "scans": scans},
        headers=manager_headers,
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["scan_id"] for result in results] == [scan["scan_id"] for scan in scans]
    assert all(result["conflict"] for result in results)


async def test_a_scanner_downloads_its_data_and_the_progress(
    gateway, entry, manager_headers
) -> None:
    data = await gateway.client.get(
        f"/api/v1/events/{EVENT_ID}/scanner-data", headers=manager_headers
    )
    assert data.status_code == 200
    assert data.json()["key_algorithm"] == "Ed25519"
    progress = await gateway.client.get(
        f"/api/v1/events/{EVENT_ID}/check-in-progress", headers=manager_headers
    )
    assert progress.json()["checked_in"] == 1


@pytest.mark.parametrize(
    ("path", "body", "wrong"),
    [
        ("check-ins", {"entrance": "North gate"}, "give exactly one of code and qr_payload"),
        ("check-ins", {"code": CODE, "qr_payload": PAYLOAD, "entrance": "A"}, "exactly one"),
        ("check-ins", {"code": "not-a-code", "entrance": "North gate"}, "code"),
        ("check-ins", {"code": CODE}, "entrance"),
        ("check-ins", {"code": CODE, "entrance": "x" * 41}, "entrance"),
        ("check-ins/sync", {"entrance": "North gate", "scans": []}, "scans"),
        ("check-ins/sync", {"entrance": "Gate", "scans": [an_offline_scan()] * 501}, "scans"),
        (
            "check-ins/sync",
            {"entrance": "Gate", "scans": [an_offline_scan(scanned_at="2030-01-01T20:00:00")]},
            "scanned_at",
        ),
        (
            "check-ins/sync",
            {"entrance": "Gate", "scans": [an_offline_scan(admitted_offline=None)]},
            "admitted_offline",
        ),
    ],
)
async def test_a_malformed_scan_is_refused_here_and_never_reaches_entry(
    gateway_factory, path, body, wrong
) -> None:
    # A 501-scan sync is larger than the default body limit; the limit is not what is tested.
    async with gateway_factory(max_request_body_bytes=1_048_576) as gateway:
        entry = FakeEntry()
        gateway.backend.scripted[ENTRY] = entry.handle
        headers = await gateway.headers_for("manager")
        response = await gateway.client.post(
            f"/api/v1/events/{EVENT_ID}/{path}", json=body, headers=headers
        )
        assert response.status_code == 422
        assert wrong in response.text
        assert entry.received == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/bookings/{uuid.uuid4()}/tickets"),
        ("GET", f"/api/v1/bookings/{uuid.uuid4()}/tickets.pdf"),
        ("POST", f"/api/v1/tickets/{uuid.uuid4()}/reissue"),
        ("GET", f"/api/v1/events/{EVENT_ID}/door-staff"),
        ("PUT", f"/api/v1/events/{EVENT_ID}/door-staff/steward"),
        ("GET", f"/api/v1/events/{EVENT_ID}/scanner-data"),
        ("GET", f"/api/v1/events/{EVENT_ID}/check-in-progress"),
    ],
    ids=[
        "tickets",
        "tickets-pdf",
        "reissue",
        "door-staff",
        "door-staff-assign",
        "scanner-data",
        "check-in-progress",
    ],
)
async def test_every_ticket_route_needs_a_login(gateway, entry, method, path) -> None:
    response = await gateway.client.request(method, path)
    assert response.status_code == 401
    assert entry.received == []


async def test_a_scan_while_entry_is_down_answers_503_with_retry_after(
    gateway, manager_headers
) -> None:
    gateway.backend.unreachable.add(ENTRY)
    response = await gateway.client.post(
        f"/api/v1/events/{EVENT_ID}/check-ins",
        json={"code": CODE, "entrance": "North gate"},
        headers=manager_headers,
    )
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_ticket_routes_are_documented_with_their_errors(gateway) -> None:
    paths = (await gateway.client.get("/openapi.json")).json()["paths"]
    pdf = paths["/api/v1/bookings/{booking_id}/tickets.pdf"]["get"]
    assert "application/pdf" in pdf["responses"]["200"]["content"]
    assert {"401", "404", "409"} <= set(pdf["responses"])
    check_in = paths["/api/v1/events/{event_id}/check-ins"]["post"]
    assert check_in["tags"] == ["tickets"]
    assert {"200", "401", "403", "404", "422", "429", "503"} <= set(check_in["responses"])
    assert "not_door_staff" in check_in["description"]
    reissue = paths["/api/v1/tickets/{ticket_id}/reissue"]["post"]
    assert {"403", "409"} <= set(reissue["responses"])
    assert set(paths["/api/v1/events/{event_id}/door-staff/{user_id}"]) == {"put", "delete"}
