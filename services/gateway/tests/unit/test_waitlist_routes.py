"""The waitlist routes: forwarded to inventory with the caller's credential, bodies checked
here first, the global roles checked here (joining needs one that may book, the organiser's
view one that watches sales), inventory's answers and errors passed on whole."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .conftest import INVENTORY, caller_of

EVENT_ID = str(uuid.uuid4())
TICKET_TYPE_ID = str(uuid.uuid4())
JOIN = {"quantity": 2, "customer_name": "Zoë O'Brien", "customer_email": "zoe@example.com"}


def _error(status: int, error_type: str, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail, "error_type": error_type})


@dataclass
class FakeInventory:
    """Answers like inventory's waitlist routes, deciding by the caller the gateway names."""

    sold_out: bool = True
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # entry id -> entry
    owners: dict[str, str] = field(default_factory=dict)  # entry id -> caller
    received: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/health/"):
            return httpx.Response(200, json={"status": "ready"})
        self.received.append(request)
        caller, _ = caller_of(request)
        parts = request.url.path.removeprefix("/internal/v1/").split("/")
        if parts[0] == "events" and parts[-1] == "waitlist" and request.method == "POST":
            return self._join(caller, parts[3], json.loads(request.content))
        if parts[0] == "events":
            return httpx.Response(200, json={"event_id": parts[1], "ticket_types": []})
        if len(parts) == 2:
            mine = [e for i, e in self.entries.items() if self.owners[i] == caller]
            return httpx.Response(200, json={"entries": mine})
        entry_id = parts[2]
        if self.owners.get(entry_id) != caller:
            return _error(404, "entry_not_found", f"Entry {entry_id} not found")
        entry = self.entries[entry_id]
        if request.method == "DELETE":
            entry.update(state="left", position=None)
            return httpx.Response(200, json=entry)
        if entry["state"] != "offered":
            return _error(409, "no_open_offer", "This entry has no open offer")
        entry.update(state="declined", offer=None)
        return httpx.Response(200, json=entry)

    def _join(self, caller: str, ticket_type_id: str, body: dict[str, Any]) -> httpx.Response:
        if not self.sold_out:
            return _error(409, "not_sold_out", "Tickets are on sale: book them")
        for entry_id, entry in self.entries.items():
            if self.owners[entry_id] == caller and entry["state"] in ("waiting", "offered"):
                return httpx.Response(200, json=entry)
        entry_id = str(uuid.uuid4())
        self.owners[entry_id] = caller
        self.entries[entry_id] = {
            "entry_id": entry_id,
            "event_id": EVENT_ID,
            "ticket_type_id": ticket_type_id,
            "quantity": body["quantity"],
            "state": "waiting",
            "position": len(self.entries) + 1,
            "joined_at": "2030-01-01T20:00:00Z",
            "offer": None,
        }
        return httpx.Response(201, json=self.entries[entry_id])


@pytest.fixture
def inventory(gateway) -> FakeInventory:
    fake = FakeInventory()
    gateway.backend.scripted[INVENTORY] = fake.handle
    return fake


JOIN_PATH = f"/api/v1/events/{EVENT_ID}/ticket-types/{TICKET_TYPE_ID}/waitlist"


async def test_a_fan_joins_a_sold_out_ticket_types_waitlist_once(gateway, inventory) -> None:
    user_id, headers = await gateway.user_with_id()

    joined = await gateway.client.post(JOIN_PATH, json=JOIN, headers=headers)
    again = await gateway.client.post(JOIN_PATH, json=JOIN, headers=headers)

    assert joined.status_code == 201
    assert (joined.json()["state"], joined.json()["position"]) == ("waiting", 1)
    assert again.status_code == 200
    assert again.json()["entry_id"] == joined.json()["entry_id"]
    sent = inventory.received[0]
    assert caller_of(sent) == (user_id, "user")
    assert json.loads(sent.content) == JOIN
    assert joined.headers["Cache-Control"] == "no-store"


async def test_joining_while_tickets_are_on_sale_is_refused_as_inventory_says(
    gateway, inventory, user_headers
) -> None:
    inventory.sold_out = False

    answer = await gateway.client.post(JOIN_PATH, json=JOIN, headers=user_headers)

    assert answer.status_code == 409
    assert answer.json() == {
        "detail": "Tickets are on sale: book them",
        "error_type": "not_sold_out",
    }


@pytest.mark.parametrize(
    "body",
    [
        JOIN | {"quantity": 0},
        JOIN | {"quantity": 11},
        JOIN | {"customer_email": "not-an-address"},
        {"quantity": 2},
        JOIN | {"offer_id": str(uuid.uuid4())},
    ],
)
async def test_a_join_that_is_not_valid_never_reaches_inventory(
    gateway, inventory, user_headers, body
) -> None:
    answer = await gateway.client.post(JOIN_PATH, json=body, headers=user_headers)

    assert answer.status_code == 422
    assert inventory.received == []


async def test_the_waitlist_routes_need_a_login(gateway, inventory) -> None:
    joined = await gateway.client.post(JOIN_PATH, json=JOIN)
    listed = await gateway.client.get("/api/v1/waitlist/entries")

    assert (joined.status_code, listed.status_code) == (401, 401)
    assert inventory.received == []


async def test_a_fan_sees_leaves_and_declines_only_their_own_entries(gateway, inventory) -> None:
    _, fan = await gateway.user_with_id()
    _, other_fan = await gateway.user_with_id()
    entry = (await gateway.client.post(JOIN_PATH, json=JOIN, headers=fan)).json()
    entry_path = f"/api/v1/waitlist/entries/{entry['entry_id']}"

    mine = await gateway.client.get("/api/v1/waitlist/entries", headers=fan)
    theirs = await gateway.client.get("/api/v1/waitlist/entries", headers=other_fan)
    leave_for_another = await gateway.client.delete(entry_path, headers=other_fan)
    decline_without_offer = await gateway.client.post(f"{entry_path}/decline", headers=fan)
    left = await gateway.client.delete(entry_path, headers=fan)

    assert [e["entry_id"] for e in mine.json()["entries"]] == [entry["entry_id"]]
    assert theirs.json() == {"entries": []}
    assert leave_for_another.status_code == 404
    assert decline_without_offer.status_code == 409
    assert decline_without_offer.json()["error_type"] == "no_open_offer"
    assert (left.status_code, left.json()["state"]) == (200, "left")


async def test_a_fan_declines_an_open_offer(gateway, inventory) -> None:
    _, fan = await gateway.user_with_id()
    entry = (await gateway.client.post(JOIN_PATH, json=JOIN, headers=fan)).json()
    inventory.entries[entry["entry_id"]].update(state="offered")

    declined = await gateway.client.post(
        f"/api/v1/waitlist/entries/{entry['entry_id']}/decline", headers=fan
    )

    assert (declined.status_code, declined.json()["state"]) == (200, "declined")
    assert inventory.received[-1].url.path == (
        f"/internal/v1/waitlist/entries/{entry['entry_id']}/decline"
    )


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_organisers_see_an_events_waitlist(gateway, inventory, role) -> None:
    headers = await gateway.headers_for(role)

    answer = await gateway.client.get(f"/api/v1/events/{EVENT_ID}/waitlist", headers=headers)

    assert answer.status_code == 200
    assert answer.json() == {"event_id": EVENT_ID, "ticket_types": []}
    assert caller_of(inventory.received[-1])[1] == role


async def test_fans_do_not_see_an_events_waitlist(gateway, inventory, user_headers) -> None:
    answer = await gateway.client.get(f"/api/v1/events/{EVENT_ID}/waitlist", headers=user_headers)

    assert answer.status_code == 403
    assert inventory.received == []
