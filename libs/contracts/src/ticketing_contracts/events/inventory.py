"""Public inventory facts on `ticketing.inventory.v1`, keyed by the show id.

Every fact carries a ticket type's stock and its per-ticket-type `stock_version`, so
read models can ignore anything older than what they hold.

Produced today:

- `StockChanged`: the stock of one ticket type after a transaction that changed it
  (a batch of holds, a batch of booking facts, a sweep of unclaimed holds, learning the
  ticket type from the catalog): one per ticket type per transaction, not one per booking.
- `ReservationRejected`: only when inventory decides a booking from its fact and refuses
  it (a `booking.requested` for a booking it holds nothing for: an old log, or a booking
  stored after its hold was released). A hold refused over HTTP is answered to its
  caller and published nowhere.

No longer produced, still registered so old records decode (a consumer reading an old
log must still work): `TicketsReserved`, `TicketsSold` and `TicketsReleased` (one per
booking, each with the stock after it; `StockChanged` carries the same stock once per
ticket type and transaction) and `StockInitialised` (a `StockChanged` at the ticket
type's first `stock_version`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ticketing_contracts.events.base import PublicEvent, register
from ticketing_contracts.events.booking import RejectionReason
from ticketing_contracts.fields import (
    Identifier,
    LogPosition,
    PersonName,
    PublishedEmail,
    StockCount,
    TicketQuantity,
    Timestamp,
)
from ticketing_contracts.topics import INVENTORY_EVENTS


class StockLevel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    quantity: StockCount
    reserved: StockCount
    sold: StockCount
    available: StockCount


class ReleaseReason(StrEnum):
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"  # after the reservation, e.g. the payment was declined


class _InventoryOutcome(PublicEvent):
    TOPIC: ClassVar[str] = INVENTORY_EVENTS
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity
    stock: StockLevel | None = Field(
        default=None, description="Stock after the outcome; absent when the ticket type is unknown"
    )
    stock_version: LogPosition = 0

    def subject(self) -> str:
        return str(self.booking_id)


@register
class TicketsReserved(_InventoryOutcome):
    """Tickets were held for a booking (no longer produced: see `StockChanged`)."""

    TYPE: ClassVar[str] = "inventory.tickets_reserved"
    VERSION: ClassVar[int] = 1


@register
class ReservationRejected(_InventoryOutcome):
    """Inventory refused a booking it decided from the booking's fact."""

    TYPE: ClassVar[str] = "inventory.reservation_rejected"
    VERSION: ClassVar[int] = 1
    reason: RejectionReason


@register
class TicketsSold(_InventoryOutcome):
    """A booking's held tickets were sold (no longer produced: see `StockChanged`)."""

    TYPE: ClassVar[str] = "inventory.tickets_sold"
    VERSION: ClassVar[int] = 1


@register
class TicketsReleased(_InventoryOutcome):
    """A booking's tickets went back on sale (no longer produced: see `StockChanged`)."""

    TYPE: ClassVar[str] = "inventory.tickets_released"
    VERSION: ClassVar[int] = 1
    reason: ReleaseReason


class StockInitialised(PublicEvent):
    """Inventory learned a ticket type (no longer produced: see `StockChanged`)."""

    TOPIC: ClassVar[str] = INVENTORY_EVENTS
    TYPE: ClassVar[str] = "inventory.stock_initialised"
    VERSION: ClassVar[int] = 1
    event_id: UUID
    ticket_type_id: UUID
    stock: StockLevel
    stock_version: LogPosition

    def subject(self) -> str:
        return str(self.ticket_type_id)


register(StockInitialised)


@register
class StockChanged(PublicEvent):
    """The stock of one ticket type after a transaction that changed it.

    One per ticket type and transaction, however many bookings it decided; a higher
    `stock_version` is a later stock of the same ticket type.
    """

    TOPIC: ClassVar[str] = INVENTORY_EVENTS
    TYPE: ClassVar[str] = "inventory.stock_changed"
    VERSION: ClassVar[int] = 1
    event_id: UUID
    ticket_type_id: UUID
    stock: StockLevel
    stock_version: LogPosition

    def subject(self) -> str:
        return str(self.ticket_type_id)


class OfferEnd(StrEnum):
    ACCEPTED = "accepted"  # booked: the tickets are the booking's hold now
    DECLINED = "declined"
    EXPIRED = "expired"
    LEFT = "left"  # the fan left the waitlist while the offer was open
    CANCELLED = "cancelled"  # the event or the ticket type went away


class _WaitlistOffer(PublicEvent):
    TOPIC: ClassVar[str] = INVENTORY_EVENTS
    event_id: UUID
    ticket_type_id: UUID
    entry_id: UUID = Field(description="The fan's place on the ticket type's waitlist")
    offer_id: UUID
    owner_id: Identifier
    quantity: TicketQuantity

    def subject(self) -> str:
        return str(self.offer_id)


@register
class WaitlistOfferMade(_WaitlistOffer):
    """Tickets that came back (a cancellation, an expired hold, a declined payment, added
    capacity) are held for the next fan on the waitlist until `expires_at`; booking with the
    `offer_id` takes them up. Carries the fan's contact as given when joining, for the
    notice."""

    TYPE: ClassVar[str] = "inventory.waitlist_offer_made"
    VERSION: ClassVar[int] = 1
    customer_name: PersonName
    customer_email: PublishedEmail
    expires_at: Timestamp


@register
class WaitlistOfferEnded(_WaitlistOffer):
    """An offer is over; unless accepted, its tickets pass to the next fan (or to general
    sale when nobody waits)."""

    TYPE: ClassVar[str] = "inventory.waitlist_offer_ended"
    VERSION: ClassVar[int] = 1
    outcome: OfferEnd
