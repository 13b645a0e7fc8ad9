"""Public catalog events on `ticketing.catalog.v1`: venues, events and their ticket types."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ticketing_contracts.events.base import PublicEvent, register
from ticketing_contracts.fields import (
    Address,
    Capacity,
    Currency,
    Description,
    Money,
    Timestamp,
    Title,
)
from ticketing_contracts.topics import CATALOG_EVENTS

MAX_TICKET_TYPES = 100


class TicketType(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_type_id: UUID
    name: Title
    price: Money
    currency: Currency
    quantity: Capacity


class _VenueEvent(PublicEvent):
    TOPIC: ClassVar[str] = CATALOG_EVENTS
    venue_id: UUID

    def partition_key(self) -> str:
        return str(self.venue_id)

    def subject(self) -> str:
        return str(self.venue_id)


class _ShowEvent(PublicEvent):
    TOPIC: ClassVar[str] = CATALOG_EVENTS
    event_id: UUID

    def subject(self) -> str:
        return str(self.event_id)


@register
class VenueCreated(_VenueEvent):
    TYPE: ClassVar[str] = "venue.created"
    VERSION: ClassVar[int] = 1
    name: Title
    capacity: Capacity
    address: Address


@register
class VenueUpdated(_VenueEvent):
    TYPE: ClassVar[str] = "venue.updated"
    VERSION: ClassVar[int] = 1
    name: Title
    capacity: Capacity
    address: Address


@register
class VenueDeleted(_VenueEvent):
    TYPE: ClassVar[str] = "venue.deleted"
    VERSION: ClassVar[int] = 1


EventStatus = Literal["draft", "published", "cancelled"]


@register
class EventCreated(_ShowEvent):
    TYPE: ClassVar[str] = "event.created"
    VERSION: ClassVar[int] = 1
    venue_id: UUID
    name: Title
    description: Description = ""
    starts_at: Timestamp
    ticket_types: tuple[TicketType, ...] = Field(max_length=MAX_TICKET_TYPES)


@register
class EventDetailsChanged(_ShowEvent):
    TYPE: ClassVar[str] = "event.details_changed"
    VERSION: ClassVar[int] = 1
    name: Title
    description: Description = ""


@register
class TicketTypeAdded(_ShowEvent):
    TYPE: ClassVar[str] = "event.ticket_type_added"
    VERSION: ClassVar[int] = 1
    ticket_type: TicketType


@register
class EventPublished(_ShowEvent):
    """The event is on sale from now on."""

    TYPE: ClassVar[str] = "event.published"
    VERSION: ClassVar[int] = 1


@register
class EventRescheduled(_ShowEvent):
    TYPE: ClassVar[str] = "event.rescheduled"
    VERSION: ClassVar[int] = 1
    starts_at: Timestamp


@register
class EventCancelled(_ShowEvent):
    TYPE: ClassVar[str] = "event.cancelled"
    VERSION: ClassVar[int] = 1
    reason: Description = ""
