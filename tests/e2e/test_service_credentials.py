"""Services call each other with their own keys on the running stack, as `make run` wires
them: booking-command's token holds tickets at inventory, and inventory's unclaimed-hold
sweeper, asking booking-command with inventory's token, releases a hold that no stored
booking claims (the shared stack claims within UNCLAIMED_HOLD_SECONDS=2)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import eventually
from .platform_api import published_show as a_published_show
from .stack_helpers import admin_headers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

RELEASED_UNCLAIMED = re.compile(r'^inventory_releases_total\{reason="unclaimed"\} (\S+)$', re.M)


async def unclaimed_releases(inventory: httpx.AsyncClient) -> float:
    metrics = await inventory.get("/metrics")
    found = RELEASED_UNCLAIMED.search(metrics.text)
    return float(found.group(1)) if found else 0.0


async def test_an_unclaimed_hold_is_released_once_booking_command_says_it_does_not_know_it(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Stalls": 5})
    stalls = show.ticket_type("Stalls")
    booking_id = str(uuid.uuid4())
    body = {
        "holds": [
            {
                "booking_id": booking_id,
                "event_id": show.event_id,
                "ticket_type_id": stalls,
                "quantity": 2,
                "owner_id": "fan-1",
            }
        ]
    }
    as_booking_command = running_stack.service_headers("booking-command", "inventory")
    as_inventory = running_stack.service_headers("inventory", "booking-command")
    async with (
        httpx.AsyncClient(base_url=running_stack.url("inventory"), timeout=10) as inventory,
        httpx.AsyncClient(base_url=running_stack.url("booking-command"), timeout=10) as booking,
    ):

        async def hold() -> httpx.Response:
            return await inventory.post("/internal/v1/holds", json=body, headers=as_booking_command)

        async def stock() -> dict[str, Any]:
            answer = await inventory.get(
                f"/internal/v1/stock/{show.event_id}",
                headers=running_stack.internal_headers("inventory"),
            )
            assert answer.status_code == 200, answer.text
            [ticket_type] = answer.json()["ticket_types"]
            return dict(ticket_type)

        refused = await inventory.post(
            "/internal/v1/holds", json=body, headers=running_stack.internal_headers("inventory")
        )
        assert refused.status_code == 403, "the gateway's token may not hold"
        own = running_stack.service_headers("inventory", "inventory")
        assert (await inventory.post("/internal/v1/holds", json=body, headers=own)).status_code == (
            401
        ), "inventory does not trust its own key"
        releases_before = await unclaimed_releases(inventory)

        # 503 until inventory has read the new show from the catalog topic.
        held = await eventually(
            hold, lambda answer: answer.status_code != 503, within=30, what="inventory's catalog"
        )
        assert held.status_code == 200, held.text
        [answer] = held.json()["answers"]
        assert answer["outcome"] == "held", answer
        assert (await stock())["reserved"] == 2

        known = await booking.post(
            "/internal/v1/bookings/known", json={"booking_ids": [booking_id]}, headers=as_inventory
        )
        assert (known.status_code, known.json()) == (200, {"known": []})

        released = await eventually(
            hold,
            lambda again: again.json()["answers"][0].get("reason") == "hold_released",
            within=30,
            what="the unclaimed hold released",
        )
        assert released.json()["answers"][0]["outcome"] == "refused"
        after = await stock()
        assert (after["reserved"], after["available"]) == (0, 5)
        assert await unclaimed_releases(inventory) >= releases_before + 1
