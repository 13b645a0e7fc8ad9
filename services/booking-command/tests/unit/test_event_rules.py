from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from booking_command.domain.catalog_event import Event, TicketTypeSpec
from service_kit.errors import ConflictError, InvalidInputError

NOW = datetime(2030, 1, 1, tzinfo=UTC)
STALLS = TicketTypeSpec("Stalls", Decimal("49.50"), "EUR", 60)


def schedule(*specs: TicketTypeSpec, capacity: int = 100, starts_in_days: int = 10) -> Event:
    return Event.schedule(
        venue_id=uuid4(),
        venue_capacity=capacity,
        name="Show",
        description="",
        starts_at=NOW + timedelta(days=starts_in_days),
        ticket_types=list(specs) or [STALLS],
        now=NOW,
    )


def test_ticket_types_get_generated_ids() -> None:
    show = schedule(STALLS, TicketTypeSpec("Balcony", Decimal("20"), "EUR", 40))
    assert len({ticket_type.ticket_type_id for ticket_type in show.ticket_types}) == 2


def test_rejects_ticket_quantities_above_venue_capacity() -> None:
    with pytest.raises(InvalidInputError):
        schedule(STALLS, TicketTypeSpec("Balcony", Decimal("20"), "EUR", 41))


def test_rejects_event_starting_in_the_past() -> None:
    with pytest.raises(InvalidInputError):
        schedule(starts_in_days=-1)


def test_rejects_negative_price() -> None:
    with pytest.raises(InvalidInputError):
        schedule(TicketTypeSpec("Stalls", Decimal("-1"), "EUR", 1))


def test_rejects_zero_quantity() -> None:
    with pytest.raises(InvalidInputError):
        schedule(TicketTypeSpec("Stalls", Decimal("1"), "EUR", 0))


def test_added_ticket_type_must_fit_the_venue() -> None:
    show = schedule()
    with pytest.raises(InvalidInputError):
        show.add_ticket_type(TicketTypeSpec("Balcony", Decimal("1"), "EUR", 41), venue_capacity=100)


def test_duplicate_ticket_type_name_is_a_conflict() -> None:
    show = schedule()
    with pytest.raises(ConflictError):
        show.add_ticket_type(TicketTypeSpec("stalls", Decimal("1"), "EUR", 1), venue_capacity=100)


def test_publishing_twice_is_a_conflict() -> None:
    show = schedule()
    show.publish(now=NOW)
    with pytest.raises(ConflictError):
        show.publish(now=NOW)


def test_cancelled_event_cannot_be_rescheduled() -> None:
    show = schedule()
    show.cancel(reason="storm")
    with pytest.raises(ConflictError):
        show.reschedule(starts_at=NOW + timedelta(days=20), now=NOW)


def test_cancelling_twice_is_a_conflict() -> None:
    show = schedule()
    show.cancel(reason="")
    with pytest.raises(ConflictError):
        show.cancel(reason="")


def test_reschedule_must_be_in_the_future() -> None:
    show = schedule()
    with pytest.raises(InvalidInputError):
        show.reschedule(starts_at=NOW - timedelta(hours=1), now=NOW)


def test_event_is_on_sale_only_when_published() -> None:
    show = schedule()
    assert not show.is_on_sale(NOW)
    show.publish(now=NOW)
    assert show.is_on_sale(NOW)
