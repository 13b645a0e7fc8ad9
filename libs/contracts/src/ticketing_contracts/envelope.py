"""The envelope every public event travels in, on Kafka and in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from ticketing_contracts.fields import (
    EventTypeName,
    Identifier,
    LogPosition,
    SchemaVersion,
    ServiceName,
    Timestamp,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventEnvelope(BaseModel):
    """Metadata shared by every public event.

    ``type`` names the event and ``version`` its schema version; together they say
    which model decodes ``data``. A breaking change to ``data`` means a new version.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(
        default_factory=uuid4, description="Unique id; consumers deduplicate on it"
    )
    type: EventTypeName = Field(examples=["booking.requested"])
    version: SchemaVersion = Field(description="Schema version of `data`")
    occurred_at: Timestamp = Field(default_factory=utc_now)
    correlation_id: Identifier = Field(description="Id of the request that started the flow")
    causation_id: Identifier | None = Field(
        default=None, description="Id of the message or request that directly caused this event"
    )
    producer: ServiceName = Field(description="Service that produced the event")
    subject: Identifier | None = Field(
        default=None, description="Aggregate the event is about, e.g. the booking id"
    )
    position: LogPosition | None = Field(
        default=None,
        description=(
            "Position of the event in the producer's log (its notification id); command "
            "responses return it and read models report how far they have applied"
        ),
    )
    aggregate_version: LogPosition | None = Field(
        default=None, description="Version of the subject aggregate after this event"
    )
    data: dict[str, Any] = Field(default_factory=dict)
