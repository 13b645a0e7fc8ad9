"""Response bodies of the internal API (documentation; the bodies are built by use cases)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, Field


class CommandResponse(BaseModel):
    id: UUID = Field(description="Id of the aggregate the command changed")
    version: int = Field(description="Aggregate version after the command")
    position: int = Field(
        description="Notification-log position of the change; read models report reaching it"
    )


class VenueResponse(CommandResponse):
    name: str
    capacity: int
    address: str
    deleted: bool


class SaleWindowOverride(BaseModel):
    sale_starts_at: datetime | None = Field(
        description="Set on the ticket type (null: the event's)"
    )
    sale_ends_at: datetime | None = Field(description="Set on the ticket type (null: the event's)")


class TicketTypeResponse(BaseModel):
    ticket_type_id: UUID
    name: str
    price: Decimal
    currency: str
    quantity: int
    sale_starts_at: datetime | None = Field(
        description="When its sale opens: its own bound, else the event's (null: open)"
    )
    sale_ends_at: datetime | None = Field(
        description="When its sale ends: its own bound, else the event's (null: never)"
    )
    max_tickets_per_account: int | None = Field(
        description="Its own limit per account (the event's applies as well; null: none)"
    )
    sales_closed: bool = Field(
        description="Closed by the organiser: bookings are refused `sales_closed` until reopened"
    )
    sale_window_override: SaleWindowOverride


class EventResponse(CommandResponse):
    venue_id: UUID
    name: str
    description: str
    starts_at: datetime
    status: str = Field(examples=["draft", "published", "cancelled"])
    sale_starts_at: datetime | None = Field(description="Bookings open (null: on publishing)")
    sale_ends_at: datetime | None = Field(description="Bookings close (null: no end)")
    max_tickets_per_account: int | None = Field(
        description="The most tickets of the event one account may hold or buy (null: no limit)"
    )
    hold_minutes: int | None = Field(
        description="How long a booking's tickets are held for its payment (null: the default)"
    )
    waitlist_offer_minutes: int | None = Field(
        description="How long a waitlist offer holds its tickets (null: the default)"
    )
    ticket_types: list[TicketTypeResponse]


class TicketTypeAddedResponse(EventResponse):
    ticket_type: TicketTypeResponse


class TicketTypeChangedResponse(EventResponse):
    ticket_type: TicketTypeResponse = Field(description="The ticket type as it now is")


class BookingResponse(CommandResponse):
    status: str = Field(examples=["PENDING"])
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    customer_name: str
    customer_email: str
    owner_id: str
    unit_price: Decimal
    total_price: Decimal = Field(description="Computed here from the ticket type's price")
    currency: str
    hold_expires_at: datetime
    rejection_reason: str | None = None
    cancelled_by: str | None = None
    payment_status: str | None = Field(
        default=None,
        examples=["pending", "captured", "refunded", "declined"],
        description="None until inventory reserves the tickets and the total is due",
    )
    payment_reference: str | None = Field(
        default=None, description="The payment provider's id of the captured payment"
    )
