"""Cancellations through the public API: a fan's cancellation refunds the payment at the
provider (the simulator, a real process) and puts the tickets back on sale; an admin's
cancellation of an event ends every booking of it, refunds every capture once and releases
all its tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import (
    book,
    eventually,
    register_fan,
    wait_for_availability,
    wait_for_status,
)
from .platform_api import booking as booking_of
from .platform_api import published_show as a_published_show
from .stack_helpers import admin_headers
from .test_payment_journeys import ledger_of

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@asynccontextmanager
async def provider_down(stack: StackInfo) -> AsyncIterator[None]:
    """The payment provider answers 503 to everything until the block ends."""
    async with httpx.AsyncClient(
        base_url=stack.payment_provider_url, headers=stack.payment_provider_headers(), timeout=10
    ) as provider:
        injected = await provider.put("/_sim/faults", json={"down": True})
        assert injected.status_code == 200, injected.text
        try:
            yield
        finally:
            cleared = await provider.delete("/_sim/faults")
            assert cleared.status_code == 200, cleared.text


async def refunded(
    client: httpx.AsyncClient, headers: dict[str, str], booking_id: str
) -> dict[str, Any]:
    return await eventually(
        lambda: booking_of(client, headers, booking_id),
        lambda found: found.get("payment_status") == "refunded",
        within=60,
        what=f"booking {booking_id} refunded",
    )


def assert_refunded_in_full_once(intents: list[dict[str, Any]], amount: int) -> None:
    [intent] = intents
    assert (intent["status"], intent["amount_received"], intent["amount_refunded"]) == (
        "succeeded",
        amount,
        amount,
    ), intent
    assert [refund["amount"] for refund in intent["refunds"]] == [amount], intent


async def test_a_fan_cancels_a_confirmed_booking_and_gets_the_whole_payment_back(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Stalls": 10})
    stalls = show.ticket_type("Stalls")
    fan = await register_fan(client)
    booking_id = await book(client, fan.headers, show.event_id, stalls, 3)
    confirmed = await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"})
    await wait_for_availability(client, show.event_id, stalls, available=7, sold=3, reserved=0)

    cancelled = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"

    seen = await refunded(client, fan.headers, booking_id)
    assert seen["status"] == "CANCELLED"
    assert seen["reason"] is None, "cancelled by its owner, not by the event"
    assert seen["payment_reference"] == confirmed["payment_reference"]
    assert_refunded_in_full_once(await ledger_of(running_stack, booking_id), 9000)
    await wait_for_availability(client, show.event_id, stalls, available=10, sold=0, reserved=0)
    again = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert again.status_code == 409, again.text


async def test_an_admin_cancels_an_event_and_every_booking_ends_refunded_and_released(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    show = await a_published_show(client, admin, {"Stalls": 20, "Balcony": 5})
    stalls, balcony = show.ticket_type("Stalls"), show.ticket_type("Balcony")
    fans = [await register_fan(client) for _ in range(4)]
    confirmed: list[tuple[dict[str, str], str, int]] = []
    for fan, (ticket_type, quantity) in zip(
        fans[:3], [(stalls, 2), (stalls, 4), (balcony, 1)], strict=True
    ):
        booking_id = await book(client, fan.headers, show.event_id, ticket_type, quantity)
        await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"})
        confirmed.append((fan.headers, booking_id, quantity * 3000))
    await wait_for_availability(client, show.event_id, stalls, available=14, sold=6)
    waiting_fan = fans[3]

    # The provider is down: the last booking cannot be charged and stays PENDING while
    # the event is cancelled (the cascade itself needs no provider).
    async with provider_down(running_stack):
        pending_id = await book(client, waiting_fan.headers, show.event_id, stalls, 2)
        assert (await booking_of(client, waiting_fan.headers, pending_id))["status"] == "PENDING"
        cancelled = await client.post(f"/api/v1/events/{show.event_id}/cancel", headers=admin)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        ended = await wait_for_status(
            client, waiting_fan.headers, pending_id, {"REJECTED", "EXPIRED", "CANCELLED"}
        )
    assert (ended["status"], ended["reason"]) == ("REJECTED", "event_cancelled"), ended

    for headers, booking_id, amount in confirmed:
        seen = await refunded(client, headers, booking_id)
        assert (seen["status"], seen["reason"]) == ("CANCELLED", "event_cancelled"), seen
        assert_refunded_in_full_once(await ledger_of(running_stack, booking_id), amount)
    left_charged = [
        intent
        for intent in await ledger_of(running_stack, pending_id)
        if intent["amount_received"] != intent["amount_refunded"]
        or intent["status"] == "requires_capture"
    ]
    assert left_charged == [], "nothing stays charged or authorised for the pending booking"

    await wait_for_availability(client, show.event_id, stalls, available=20, sold=0, reserved=0)
    await wait_for_availability(client, show.event_id, balcony, available=5, sold=0, reserved=0)
    event = await client.get(f"/api/v1/events/{show.event_id}", headers=fans[0].headers)
    assert event.json()["status"] == "cancelled"
    mine = await client.get("/api/v1/bookings", headers=fans[0].headers)
    [listed] = mine.json()["items"]
    assert (listed["status"], listed["reason"], listed["payment_status"]) == (
        "CANCELLED",
        "event_cancelled",
        "refunded",
    )
