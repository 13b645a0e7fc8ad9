"""Inventory's HTTP adapter against a fake inventory on loopback: the hold call carries a
waitlist offer, and the question before a lower quantity or a removal is answered applied,
refused with inventory's figures, or not at all."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from booking_command.adapters.inventory import HttpInventory
from booking_command.application.ports import InventoryUnavailable, TicketsToHold
from service_kit.circuit_breakers import create_breaker
from ticketing_contracts.waitlist import TicketTypeChangeQuestion

QUESTION = TicketTypeChangeQuestion(
    change_id=uuid4(), event_id=uuid4(), ticket_type_id=uuid4(), quantity=10
)
TAKEN = {"quantity": 100, "sold": 8, "held": 3, "offered": 2}


class FakeInventory:
    def __init__(self) -> None:
        self.answers: list[tuple[int, Any]] = []
        self.seen: list[tuple[str, Any]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path, json.loads(await request.read())))
        status, body = self.answers.pop(0)
        return web.json_response(body, status=status)


@pytest_asyncio.fixture(loop_scope="session")
async def served() -> AsyncIterator[tuple[FakeInventory, HttpInventory]]:
    inventory = FakeInventory()
    app = web.Application()
    app.router.add_route("POST", "/{path:.*}", inventory.handle)
    runner = web.AppRunner(app, shutdown_timeout=0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    client = HttpInventory(
        f"http://127.0.0.1:{runner.addresses[0][1]}",
        lambda: "Bearer test",
        aiohttp.ClientSession(),
        create_breaker(f"inventory-test-{uuid4()}", fail_max=5, reset_timeout_seconds=30),
        retry_attempts=3,
        retry_initial_seconds=0.001,
        retry_max_seconds=0.002,
    )
    try:
        yield inventory, client
    finally:
        await client.aclose()
        await runner.cleanup()


async def test_a_hold_names_the_offer_it_takes_up(
    served: tuple[FakeInventory, HttpInventory],
) -> None:
    inventory, client = served
    booking_id, offer_id = uuid4(), uuid4()
    held = {
        "booking_id": str(booking_id),
        "outcome": "held",
        "hold_expires_at": "2030-01-01T12:10:00Z",
    }
    inventory.answers.append((200, {"answers": [held]}))

    [answer] = await client.hold(
        [TicketsToHold(booking_id, uuid4(), uuid4(), 2, "fan-1", offer_id=offer_id)]
    )

    assert answer.held
    [(path, body)] = inventory.seen
    assert path == "/internal/v1/holds"
    assert body["holds"][0]["offer_id"] == str(offer_id)


async def test_an_applied_change_is_answered_applied(
    served: tuple[FakeInventory, HttpInventory],
) -> None:
    inventory, client = served
    inventory.answers.append(
        (
            200,
            {
                "outcome": "applied",
                "taken": {"ticket_type_id": str(QUESTION.ticket_type_id), **TAKEN},
            },
        )
    )

    answer = await client.change_ticket_type(QUESTION)

    assert answer.outcome == "applied"
    [(path, body)] = inventory.seen
    assert path == "/internal/v1/ticket-type-changes"
    assert body["quantity"] == 10


@pytest.mark.parametrize(
    "refusal",
    [
        {
            "outcome": "refused",
            "reason": "quantity_below_taken",
            "taken": {"ticket_type_id": str(QUESTION.ticket_type_id), **TAKEN},
        },
        {"detail": "below what is taken", "error_type": "quantity_below_taken", **TAKEN},
        {
            "detail": "below what is taken",
            "error_type": "quantity_below_taken",
            "taken": {"ticket_type_id": str(QUESTION.ticket_type_id), **TAKEN},
        },
    ],
)
async def test_a_409_is_a_refusal_with_inventorys_figures(
    served: tuple[FakeInventory, HttpInventory], refusal: dict[str, Any]
) -> None:
    inventory, client = served
    inventory.answers.append((409, refusal))

    answer = await client.change_ticket_type(QUESTION)

    assert (answer.outcome, answer.reason) == ("refused", "quantity_below_taken")
    assert (answer.taken.sold, answer.taken.held, answer.taken.offered) == (8, 3, 2)


async def test_a_ticket_type_inventory_has_not_read_yet_has_nothing_taken(
    served: tuple[FakeInventory, HttpInventory],
) -> None:
    inventory, client = served
    inventory.answers.append((404, {"detail": "unknown", "error_type": "not_found"}))

    answer = await client.change_ticket_type(QUESTION)

    assert answer.outcome == "applied"


async def test_failures_are_retried_then_reported_as_no_answer(
    served: tuple[FakeInventory, HttpInventory],
) -> None:
    inventory, client = served
    inventory.answers.extend([(503, {}), (502, {}), (500, {})])

    with pytest.raises(InventoryUnavailable):
        await client.change_ticket_type(QUESTION)

    assert len(inventory.seen) == 3


async def test_a_409_that_says_nothing_is_no_answer(
    served: tuple[FakeInventory, HttpInventory],
) -> None:
    inventory, client = served
    inventory.answers.append((409, {"detail": "no", "error_type": "something_else"}))

    with pytest.raises(InventoryUnavailable):
        await client.change_ticket_type(QUESTION)
