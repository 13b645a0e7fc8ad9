"""Public event ids: one per stored record, and another for a record a restored store makes
at a version a lost record had."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from eventsourcing.domain import DomainEvent

from booking_command.adapters.public_events import (
    EVENT_ID_NAMESPACE,
    OutboxMapper,
    public_event_id,
)
from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication

from .handling import store


def _first_stored_event(app: BookingCommandApplication) -> tuple[DomainEvent, int]:
    store(app, [commands.RegisterVenue(name="Hall", capacity=500, address="1 Road")])
    [notification] = app.recorder.select_notifications(1, 1)
    mapper = OutboxMapper(app.mapper, lambda topic: topic)
    return mapper.domain_event(notification), notification.id


def test_a_stored_event_published_again_keeps_its_id(app: BookingCommandApplication) -> None:
    store(app, [commands.RegisterVenue(name="Hall", capacity=500, address="1 Road")])
    [notification] = app.recorder.select_notifications(1, 1)
    mapper = OutboxMapper(app.mapper, lambda topic: topic)

    first = mapper.message_for(notification)
    again = mapper.message_for(notification)

    assert first is not None
    assert again is not None
    assert first.envelope.event_id == again.envelope.event_id


def test_an_event_recorded_after_a_restore_at_a_lost_events_version_gets_another_id(
    app: BookingCommandApplication,
) -> None:
    lost, position = _first_stored_event(app)
    # The restored store records the same aggregate's next change at the same version, later.
    recorded_after_restore = dataclasses.replace(
        lost, timestamp=lost.timestamp + timedelta(minutes=5)
    )
    mapper = OutboxMapper(app.mapper, lambda topic: topic)

    before = mapper.envelope_for(lost, position)
    after = mapper.envelope_for(recorded_after_restore, position)

    assert before is not None
    assert after is not None
    assert (before.subject, before.aggregate_version) == (after.subject, after.aggregate_version)
    assert after.event_id != before.event_id


def test_the_id_names_aggregate_version_and_time_of_the_record(
    app: BookingCommandApplication,
) -> None:
    stored, position = _first_stored_event(app)
    envelope = OutboxMapper(app.mapper, lambda topic: topic).envelope_for(stored, position)

    assert envelope is not None
    assert envelope.event_id == public_event_id(
        stored.originator_id, stored.originator_version, stored.timestamp
    )
    assert envelope.occurred_at == stored.timestamp


def test_records_stored_before_ids_named_their_time_keep_the_ids_they_were_published_with(
    app: BookingCommandApplication,
) -> None:
    stored, position = _first_stored_event(app)
    # The store's first start with timed ids was after this record.
    mapper = OutboxMapper(app.mapper, lambda topic: topic, timed_ids_from=position + 1)

    envelope = mapper.envelope_for(stored, position)

    assert envelope is not None
    assert envelope.event_id == uuid.uuid5(
        EVENT_ID_NAMESPACE, f"{stored.originator_id}:{stored.originator_version}"
    )
