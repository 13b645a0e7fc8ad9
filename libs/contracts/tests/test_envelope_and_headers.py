from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

from ticketing_contracts import headers, topics
from ticketing_contracts.envelope import EventEnvelope


def _envelope(**overrides: object) -> EventEnvelope:
    fields: dict[str, object] = {
        "type": "booking.requested",
        "version": 1,
        "correlation_id": "req-1",
        "causation_id": "cmd-9",
        "producer": "booking-command",
        "subject": "booking-7",
        "data": {"quantity": 2},
    }
    fields.update(overrides)
    return EventEnvelope.model_validate(fields)


def test_envelope_round_trips_through_json() -> None:
    envelope = _envelope()
    decoded = EventEnvelope.model_validate_json(envelope.model_dump_json())
    assert decoded == envelope
    assert isinstance(decoded.event_id, UUID)
    assert decoded.occurred_at.tzinfo is not None


def test_envelope_rejects_unknown_fields_and_missing_correlation() -> None:
    with pytest.raises(ValidationError, match="extra"):
        _envelope(unexpected=True)
    with pytest.raises(ValidationError, match="correlation_id"):
        _envelope(correlation_id="")


def test_envelope_requires_a_positive_schema_version() -> None:
    with pytest.raises(ValidationError, match="version"):
        _envelope(version=0)


def test_kafka_headers_carry_cloudevents_metadata_and_ids() -> None:
    envelope = _envelope(occurred_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    kafka_headers = headers.headers_for(envelope)
    assert kafka_headers[headers.CE_ID] == str(envelope.event_id)
    assert kafka_headers[headers.CE_TYPE] == "booking.requested"
    assert kafka_headers[headers.CE_SOURCE] == "booking-command"
    assert kafka_headers[headers.CE_TIME] == "2026-11-26T12:00:00+00:00"
    assert kafka_headers[headers.CE_SPECVERSION] == "1.0"
    assert kafka_headers[headers.CE_DATASCHEMA_VERSION] == "1"
    assert kafka_headers[headers.CORRELATION_ID] == "req-1"
    assert kafka_headers[headers.CAUSATION_ID] == "cmd-9"
    assert kafka_headers[headers.CE_SUBJECT] == "booking-7"


def test_headers_leave_out_absent_causation() -> None:
    assert headers.CAUSATION_ID not in headers.headers_for(_envelope(causation_id=None))


def test_topic_names_are_versioned_and_prefixable() -> None:
    assert all(name.endswith(".v1") for name in topics.ALL_TOPICS)
    assert topics.prefixed("test-1.", topics.BOOKING_EVENTS) == "test-1.ticketing.booking.v1"
