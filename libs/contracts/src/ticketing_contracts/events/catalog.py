"""Public catalog events on `ticketing.catalog.v1`: venues, events and their ticket types."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ticketing_contracts.events.base import PublicEvent, register
from ticketing_contracts.fields import (
    Address,
    Capacity,
    Currency,
    Description,
    HoldMinutes,
    Money,
    PurchaseLimit,
    Timestamp,
    Title,
)
from ticketing_contracts.topics import CATALOG_EVENTS

MAX_TICKET_TYPES = 100


class TicketType(BaseModel):
    """A ticket type with its own sale terms: each bound of its sale window overrides the
    event's (null: the event's applies), and its purchase limit applies beside the event's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_type_id: UUID
    name: Title
    price: Money
    currency: Currency
    quantity: Capacity
    sale_starts_at: Timestamp | None = None
    sale_ends_at: Timestamp | None = None
    max_tickets_per_account: PurchaseLimit | None = None


def _ticket_type_v1_v2(ticket_type: dict[str, Any]) -> None:
    ticket_type["sale_starts_at"] = None
    ticket_type["sale_ends_at"] = None
    ticket_type["max_tickets_per_account"] = None


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
    """An event was scheduled, as a draft. Version 2 added its sale terms (sale window and
    purchase limit per account) and each ticket type's own; version 1 had none (null)."""

    TYPE: ClassVar[str] = "event.created"
    VERSION: ClassVar[int] = 2
    venue_id: UUID
    name: Title
    description: Description = ""
    starts_at: Timestamp
    ticket_types: tuple[TicketType, ...] = Field(max_length=MAX_TICKET_TYPES)
    sale_starts_at: Timestamp | None = None
    sale_ends_at: Timestamp | None = None
    max_tickets_per_account: PurchaseLimit | None = None

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> None:
        data["sale_starts_at"] = None
        data["sale_ends_at"] = None
        data["max_tickets_per_account"] = None
        for ticket_type in data.get("ticket_types", ()):
            _ticket_type_v1_v2(ticket_type)


@register
class EventDetailsChanged(_ShowEvent):
    TYPE: ClassVar[str] = "event.details_changed"
    VERSION: ClassVar[int] = 1
    name: Title
    description: Description = ""


@register
class TicketTypeAdded(_ShowEvent):
    """Version 2: the ticket type carries its own sale terms (version 1: none, null)."""

    TYPE: ClassVar[str] = "event.ticket_type_added"
    VERSION: ClassVar[int] = 2
    ticket_type: TicketType

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> None:
        _ticket_type_v1_v2(data["ticket_type"])


@register
class EventSaleChanged(_ShowEvent):
    """The event's sale terms as they now are: its sale window (null: no bound) and the most
    tickets of the event one account may hold or buy (null: no limit)."""

    TYPE: ClassVar[str] = "event.sale_changed"
    VERSION: ClassVar[int] = 2
    sale_starts_at: Timestamp | None
    sale_ends_at: Timestamp | None
    max_tickets_per_account: PurchaseLimit | None
    hold_minutes: HoldMinutes | None = Field(
        default=None,
        description="How long a booking's tickets are held for its payment (null: the "
        "service's HOLD_SECONDS)",
    )
    waitlist_offer_minutes: HoldMinutes | None = Field(
        default=None,
        description="How long a waitlist offer holds its tickets for the fan (null: the "
        "service's WAITLIST_OFFER_SECONDS)",
    )

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> None:
        data["hold_minutes"] = None
        data["waitlist_offer_minutes"] = None


@register
class TicketTypeSaleChanged(_ShowEvent):
    """A ticket type's own sale terms as they now are: each bound of its window overrides
    the event's (null: the event's applies); its limit applies beside the event's."""

    TYPE: ClassVar[str] = "event.ticket_type_sale_changed"
    VERSION: ClassVar[int] = 1
    ticket_type_id: UUID
    sale_starts_at: Timestamp | None
    sale_ends_at: Timestamp | None
    max_tickets_per_account: PurchaseLimit | None


@register
class TicketTypeChanged(_ShowEvent):
    """What an organiser may change of a ticket type while it sells, as it now is: its name,
    its price (for bookings made from now on; bookings made before keep theirs), its quantity
    (never below the tickets sold, held or offered: inventory agreed before this was stored)
    and whether its sales are closed (a closed type sells nothing until reopened)."""

    TYPE: ClassVar[str] = "event.ticket_type_changed"
    VERSION: ClassVar[int] = 1
    ticket_type_id: UUID
    name: Title
    price: Money
    currency: Currency
    quantity: Capacity
    sales_closed: bool = False


@register
class TicketTypeRemoved(_ShowEvent):
    """A ticket type nothing was sold, held or offered of is gone from the event."""

    TYPE: ClassVar[str] = "event.ticket_type_removed"
    VERSION: ClassVar[int] = 1
    ticket_type_id: UUID


@register
class EventPublished(_ShowEvent):
    """The event is on sale from now on, within its sale window."""

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
