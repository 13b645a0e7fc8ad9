"""Organiser edits in the event reads and the availability read: names, prices, closed
sales, quantities (the catalog's until inventory reports the type, then inventory's),
removed ticket types gone, and the event's hold and offer windows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ticketing_contracts.events import EventSaleChanged
from ticketing_contracts.events.catalog import TicketTypeChanged, TicketTypeRemoved

from .conftest import running_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(harness):
    settings = harness.settings.model_copy(update={"run_consumer": False})
    async with running_app(settings) as client:
        yield client


async def test_reads_show_edited_ticket_types_and_leave_removed_ones_out(api, harness, scenario):
    venue = scenario.venue_created()
    created = scenario.event_created(scenario.subject_id(venue), quantities=(100, 20, 20))
    event_id = scenario.subject_id(created)
    stalls, balcony, box = scenario.ticket_type_ids(created)
    await harness.publish(
        venue,
        created,
        scenario.stock_changed(event_id, stalls, quantity=100, sold=100),
        scenario.stock_changed(event_id, balcony, quantity=20),
    )
    availability = f"/internal/v1/events/{event_id}/availability"
    before = await api.get(availability)

    await harness.publish(
        scenario.envelope(
            TicketTypeChanged(
                event_id=event_id,
                ticket_type_id=stalls,
                name="Front stalls",
                price=Decimal("60.00"),
                currency="EUR",
                quantity=120,
                sales_closed=True,
            )
        ),
        scenario.envelope(
            TicketTypeChanged(
                event_id=event_id,
                ticket_type_id=box,
                name="Tier 2",
                price=Decimal("49.50"),
                currency="EUR",
                quantity=30,
            )
        ),
        scenario.envelope(TicketTypeRemoved(event_id=event_id, ticket_type_id=balcony)),
        scenario.envelope(
            EventSaleChanged(
                event_id=event_id,
                sale_starts_at=None,
                sale_ends_at=None,
                max_tickets_per_account=None,
                hold_minutes=10,
                waitlist_offer_minutes=30,
            )
        ),
    )
    event = (await api.get(f"/internal/v1/events/{event_id}")).json()
    after = await api.get(availability, headers={"If-None-Match": before.headers["etag"]})
    listed = [
        item
        for item in (await api.get("/internal/v1/events")).json()["items"]
        if item["id"] == str(event_id)
    ]

    assert after.status_code == 200, "the catalog changed: a new ETag"
    for read in (event, after.json(), *listed):
        assert (read["hold_minutes"], read["waitlist_offer_minutes"]) == (10, 30)
    for ticket_types in (event["ticket_types"], after.json()["ticket_types"]):
        by_id = {t["ticket_type_id"]: t for t in ticket_types}
        assert set(by_id) == {str(stalls), str(box)}, "the removed type is gone"
        assert by_id[str(stalls)]["sales_closed"] is True
        assert by_id[str(stalls)]["available"] == 0, "inventory's level until it reports more"
        assert (by_id[str(box)]["quantity"], by_id[str(box)]["available"]) == (30, 30)
        assert by_id[str(box)]["sales_closed"] is False
    stalls_read = next(t for t in event["ticket_types"] if t["ticket_type_id"] == str(stalls))
    assert (stalls_read["name"], stalls_read["price"]) == ("Front stalls", "60.00")

    await harness.publish(scenario.stock_changed(event_id, stalls, quantity=120, sold=100))
    raised = (await api.get(availability)).json()
    stalls_level = next(t for t in raised["ticket_types"] if t["ticket_type_id"] == str(stalls))
    assert (stalls_level["quantity"], stalls_level["available"]) == (120, 20)
