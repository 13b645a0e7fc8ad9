"""Paying for tickets through the public API: the platform charges the payment provider
(the simulator, a real process) once inventory reserves, and confirms or rejects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import (
    book,
    book_once_back_on_sale,
    eventually,
    register_fan,
    wait_for_availability,
    wait_for_status,
)
from .platform_api import booking as booking_of
from .platform_api import published_show as a_published_show
from .stack_helpers import admin_headers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def ledger_of(stack: StackInfo, booking_id: str) -> list[dict[str, Any]]:
    """Every payment intent the provider holds for the booking (simulator's control API)."""
    async with httpx.AsyncClient(
        base_url=stack.payment_provider_url, headers=stack.payment_provider_headers(), timeout=10
    ) as provider:
        answer = await provider.get("/_sim/ledger", params={"metadata.booking_id": booking_id})
    assert answer.status_code == 200, answer.text
    intents: list[dict[str, Any]] = answer.json()["payment_intents"]
    return intents


async def test_a_fan_pays_by_card_and_sees_the_booking_confirmed_with_its_captured_payment(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Stalls": 20})
    stalls = show.ticket_type("Stalls")
    fan = await register_fan(client)

    booking_id = await book(client, fan.headers, show.event_id, stalls, 3, card="tok_visa")
    await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"})
    confirmed = await eventually(
        lambda: booking_of(client, fan.headers, booking_id),
        lambda found: found.get("payment_status") == "captured",
        within=10,
        what="the captured payment in the booking",
    )
    assert confirmed["total_price"] == "90.00"
    assert confirmed["payment_reference"]

    [intent] = await ledger_of(running_stack, booking_id)
    assert intent["id"] == confirmed["payment_reference"]
    assert (intent["status"], intent["amount"], intent["amount_received"]) == (
        "succeeded",
        9000,
        9000,
    )
    assert (intent["currency"], intent["amount_refunded"]) == ("eur", 0)
    await wait_for_availability(client, show.event_id, stalls, available=17, sold=3, reserved=0)


async def test_a_declined_card_rejects_the_booking_and_its_tickets_go_back_on_sale(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Front row": 2})
    front_row = show.ticket_type("Front row")
    declined_fan, next_fan = await register_fan(client), await register_fan(client)

    declined_id = await book(
        client,
        declined_fan.headers,
        show.event_id,
        front_row,
        2,
        card="tok_chargeDeclined",
    )
    rejected = await wait_for_status(client, declined_fan.headers, declined_id, {"REJECTED"})
    assert rejected["reason"] == "payment_declined"
    assert rejected["payment_status"] == "declined"
    assert rejected.get("payment_reference") is None
    [intent] = await ledger_of(running_stack, declined_id)
    assert (intent["status"], intent["amount_received"]) == ("requires_payment_method", 0)

    await wait_for_availability(client, show.event_id, front_row, available=2, sold=0, reserved=0)
    rebooked = await book_once_back_on_sale(client, next_fan.headers, show.event_id, front_row, 2)
    again = await wait_for_status(client, next_fan.headers, rebooked, {"CONFIRMED", "REJECTED"})
    assert again["status"] == "CONFIRMED", again
