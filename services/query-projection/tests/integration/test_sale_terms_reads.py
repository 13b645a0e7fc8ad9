"""Sale windows and purchase limits in the event reads and the availability read."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ticketing_contracts.events import EventSaleChanged, TicketTypeSaleChanged

from .conftest import running_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(harness):
    settings = harness.settings.model_copy(update={"run_consumer": False})
    async with running_app(settings) as client:
        yield client


def moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


async def test_reads_show_the_events_window_and_each_ticket_types_effective_one(
    api, harness, scenario
):
    venue = scenario.venue_created()
    created = scenario.event_created(scenario.subject_id(venue), quantities=(100, 20))
    event_id = scenario.subject_id(created)
    stalls, presale = scenario.ticket_type_ids(created)
    opens, closes = scenario.clock + timedelta(days=1), scenario.clock + timedelta(days=3)
    await harness.publish(venue, created)
    availability = f"/internal/v1/events/{event_id}/availability"
    before = await api.get(availability)
    assert (before.json()["sale_starts_at"], before.json()["max_tickets_per_account"]) == (
        None,
        None,
    )

    await harness.publish(
        scenario.envelope(
            EventSaleChanged(
                event_id=event_id,
                sale_starts_at=opens,
                sale_ends_at=closes,
                max_tickets_per_account=4,
            )
        ),
        scenario.envelope(
            TicketTypeSaleChanged(
                event_id=event_id,
                ticket_type_id=presale,
                sale_starts_at=opens - timedelta(hours=6),
                sale_ends_at=None,
                max_tickets_per_account=2,
            )
        ),
    )

    event = (await api.get(f"/internal/v1/events/{event_id}")).json()
    listed = (await api.get("/internal/v1/events")).json()["items"]
    after = await api.get(availability, headers={"If-None-Match": before.headers["etag"]})

    assert after.status_code == 200, "the sale terms changed: a new ETag"
    for read in (event, after.json(), *(item for item in listed if item["id"] == str(event_id))):
        assert (moment(read["sale_starts_at"]), moment(read["sale_ends_at"])) == (opens, closes)
        assert read["max_tickets_per_account"] == 4
    for ticket_types in (event["ticket_types"], after.json()["ticket_types"]):
        by_id = {t["ticket_type_id"]: t for t in ticket_types}
        assert moment(by_id[str(stalls)]["sale_starts_at"]) == opens, "the event's"
        assert by_id[str(stalls)]["max_tickets_per_account"] is None
        assert moment(by_id[str(presale)]["sale_starts_at"]) == opens - timedelta(hours=6)
        assert moment(by_id[str(presale)]["sale_ends_at"]) == closes, "the event's end"
        assert by_id[str(presale)]["max_tickets_per_account"] == 2
        assert by_id[str(presale)]["sale_window_override"]["sale_ends_at"] is None
