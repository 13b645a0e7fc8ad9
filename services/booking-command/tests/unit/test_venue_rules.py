from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from booking_command.domain.venue import Venue
from service_kit.errors import ConflictError, InvalidInputError

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_venue_name_is_trimmed() -> None:
    venue = Venue.register(name="  Royal Albert Hall ", capacity=5272, address="London")
    assert venue.name == "Royal Albert Hall"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "bad\x00name"])
def test_rejects_invalid_venue_name(name: str) -> None:
    with pytest.raises(InvalidInputError):
        Venue.register(name=name, capacity=10, address="London")


@pytest.mark.parametrize("capacity", [0, -1])
def test_rejects_venue_without_positive_capacity(capacity: int) -> None:
    with pytest.raises(InvalidInputError):
        Venue.register(name="Hall", capacity=capacity, address="London")


def test_venue_with_upcoming_event_cannot_be_deleted() -> None:
    venue = Venue.register(name="Hall", capacity=10, address="London")
    venue.schedule_show(event_id=uuid4(), starts_at=NOW + timedelta(days=1), tickets=5)
    with pytest.raises(ConflictError) as raised:
        venue.delete(now=NOW)
    assert raised.value.error_type == "venue_has_upcoming_events"


def test_venue_with_only_past_events_can_be_deleted() -> None:
    venue = Venue.register(name="Hall", capacity=10, address="London")
    venue.schedule_show(event_id=uuid4(), starts_at=NOW - timedelta(days=1), tickets=5)
    venue.delete(now=NOW)
    assert venue.deleted


def test_deleted_venue_cannot_be_updated() -> None:
    venue = Venue.register(name="Hall", capacity=10, address="London")
    venue.delete(now=NOW)
    with pytest.raises(ConflictError):
        venue.update(name="Hall", capacity=10, address="London")


def test_capacity_cannot_drop_below_a_scheduled_event() -> None:
    venue = Venue.register(name="Hall", capacity=100, address="London")
    venue.schedule_show(event_id=uuid4(), starts_at=NOW + timedelta(days=1), tickets=80)
    with pytest.raises(ConflictError):
        venue.update(name="Hall", capacity=50, address="London")
