"""Rows of the read models, as plain values the projection rules produce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from ticketing_contracts.events import BookingStatus


@dataclass(frozen=True)
class Venue:
    venue_id: UUID
    name: str
    capacity: int
    address: str
    deleted: bool
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class TicketTypeRow:
    """`sale_*` and `max_tickets_per_account` are the ticket type's own terms: a window
    bound of None is the event's. A removed ticket type keeps its row (`removed`), so a
    late redelivery of its addition does not bring it back; reads leave it out."""

    ticket_type_id: UUID
    name: str
    price: Decimal
    currency: str
    quantity: int
    sort_order: int
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    max_tickets_per_account: int | None = None
    sales_closed: bool = False
    removed: bool = False


@dataclass(frozen=True)
class Show:
    """An event (the show people buy tickets for) with its ticket types."""

    event_id: UUID
    venue_id: UUID
    name: str
    description: str
    starts_at: datetime
    status: str
    ticket_types: tuple[TicketTypeRow, ...]
    version: int
    created_at: datetime
    updated_at: datetime
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    max_tickets_per_account: int | None = None
    # How long holds and waitlist offers last (None: the services' defaults).
    hold_minutes: int | None = None
    waitlist_offer_minutes: int | None = None

    def revision(self, venue_version: int | None) -> str:
        return show_revision(self.version, venue_version)


@dataclass(frozen=True)
class Booking:
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    status: BookingStatus
    version: int
    owner_id: str | None
    customer_name: str | None
    customer_email: str | None
    unit_price: Decimal | None
    total_price: Decimal | None
    currency: str | None
    hold_expires_at: datetime | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    # pending, captured, refunded or declined; None once no payment is to come.
    payment_status: str | None = None
    payment_reference: str | None = None


@dataclass(frozen=True)
class Stock:
    """Remaining tickets of one ticket type, as inventory last reported them.

    `provisional` marks a level seeded from the catalog (quantity, nothing reserved)
    before inventory's own stock of that ticket type arrived.
    """

    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    reserved: int
    sold: int
    available: int
    stock_version: int
    provisional: bool

    @property
    def sold_out(self) -> bool:
        return self.available <= 0


StockKey = tuple[UUID, UUID]


def show_revision(show_version: int, venue_version: int | None) -> str:
    """Changes whenever the show's details or its venue summary change."""
    return f"{show_version}.{venue_version or 0}"
