"""Scheduled sales and purchase limits (issue 22), as fans and managers see them through
the public API with every service running: a booking before the sale opens is refused with
the window, a window edit takes effect once inventory has read it, and an account cannot
hold or buy more than its limit until a booking of its own is cancelled."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import (
    book,
    create_venue,
    eventually,
    register_fan,
    request_booking,
    wait_for_status,
)
from .stack_helpers import admin_headers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def on_sale_show(
    client: httpx.AsyncClient, admin: dict[str, str], **sale: Any
) -> tuple[str, str]:
    """A published event with one ticket type of 50 and these sale terms: (event, type)."""
    created = await client.post(
        "/api/v1/events",
        json={
            "venue_id": await create_venue(client, admin),
            "name": "On-Sale Night",
            "starts_at": iso(datetime.now(UTC) + timedelta(days=30)),
            "ticket_types": [{"name": "Standing", "price": "20.00", "quantity": 50}],
            **sale,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    event_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/events/{event_id}/publish", headers=admin)
    assert published.status_code == 200, published.text
    return event_id, str(created.json()["ticket_types"][0]["ticket_type_id"])


def refused(reason: str) -> Any:
    def check(response: httpx.Response) -> bool:
        return response.status_code == 409 and response.json()["error_type"] == reason

    return check


async def test_a_booking_outside_the_sale_window_is_refused_with_it_until_the_window_moves(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    opens = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    event_id, standing = await on_sale_show(client, admin, sale_starts_at=iso(opens))
    fan = await register_fan(client)

    early = await request_booking(client, fan.headers, event_id, standing, 1)

    assert early.status_code == 409, early.text
    assert early.json()["error_type"] == "not_on_sale"
    assert datetime.fromisoformat(early.json()["sale_starts_at"]) == opens
    assert early.json()["sale_ends_at"] is None
    read = await client.get(f"/api/v1/events/{event_id}", headers=fan.headers)
    assert datetime.fromisoformat(read.json()["sale_starts_at"]) == opens
    assert datetime.fromisoformat(read.json()["ticket_types"][0]["sale_starts_at"]) == opens

    # The manager opens the sale now: bookings go through once inventory has read it.
    opened = await client.put(
        f"/api/v1/events/{event_id}/sale",
        json={"sale_starts_at": iso(datetime.now(UTC) - timedelta(minutes=1))},
        headers=admin,
    )
    assert opened.status_code == 200, opened.text
    accepted = await eventually(
        lambda: request_booking(client, fan.headers, event_id, standing, 1),
        lambda response: not refused("not_on_sale")(response),
        within=30,
        what="the sale opened",
    )
    assert accepted.status_code == 202, accepted.text

    # And closes it: a booking from its end on is refused with the end.
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    closed = await client.put(
        f"/api/v1/events/{event_id}/sale", json={"sale_ends_at": iso(ended)}, headers=admin
    )
    assert closed.status_code == 200, closed.text
    late = await eventually(
        lambda: request_booking(client, fan.headers, event_id, standing, 1),
        refused("not_on_sale"),
        within=30,
        what="the sale closed",
    )
    assert (late.json()["sale_starts_at"], late.json()["sale_ends_at"]) == (None, iso(ended))


async def test_an_account_cannot_pass_its_limit_until_a_booking_of_its_own_is_cancelled(
    client: httpx.AsyncClient, running_stack: StackInfo
) -> None:
    admin = await admin_headers(client, running_stack)
    event_id, standing = await on_sale_show(client, admin, max_tickets_per_account=3)
    fan, other_fan = await register_fan(client), await register_fan(client)

    first = await book(client, fan.headers, event_id, standing, 2)
    over = await request_booking(client, fan.headers, event_id, standing, 2)
    others = await request_booking(client, other_fan.headers, event_id, standing, 3)

    assert over.status_code == 409, over.text
    assert over.json() == {
        "detail": over.json()["detail"],
        "error_type": "purchase_limit_reached",
        "limit_scope": "event",
        "max_tickets_per_account": 3,
        "tickets_held_or_bought": 2,
    }
    assert others.status_code == 202, "another account still buys"
    assert (await wait_for_status(client, fan.headers, first))["status"] == "CONFIRMED"
    cancelled = await client.post(f"/api/v1/bookings/{first}/cancel", json={}, headers=fan.headers)
    assert cancelled.status_code == 200, cancelled.text

    again = await eventually(
        lambda: request_booking(client, fan.headers, event_id, standing, 3),
        lambda response: not refused("purchase_limit_reached")(response),
        within=30,
        what="the cancelled booking's tickets given back to the account",
    )
    assert again.status_code == 202, again.text
