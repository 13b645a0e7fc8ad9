"""The envelope every public event travels in, on Kafka and in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field


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
    type: str = Field(min_length=1, examples=["booking.requested"])
    version: int = Field(ge=1, description="Schema version of `data`")
    occurred_at: datetime = Field(default_factory=utc_now)
    correlation_id: str = Field(min_length=1, description="Id of the request that started the flow")
    causation_id: str | None = Field(
        default=None, description="Id of the message or request that directly caused this event"
    )
    producer: str = Field(min_length=1, description="Service that produced the event")
    subject: str | None = Field(
        default=None, description="Aggregate the event is about, e.g. the booking id"
    )
    position: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Position of the event in the producer's log (its notification id); command "
            "responses return it and read models report how far they have applied"
        ),
    )
    aggregate_version: int | None = Field(
        default=None, ge=0, description="Version of the subject aggregate after this event"
    )
    data: dict[str, Any] = Field(default_factory=dict)
