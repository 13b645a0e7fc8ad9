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


class TicketTypeResponse(BaseModel):
    ticket_type_id: UUID
    name: str
    price: Decimal
    currency: str
    quantity: int


class EventResponse(CommandResponse):
    venue_id: UUID
    name: str
    description: str
    starts_at: datetime
    status: str = Field(examples=["draft", "published", "cancelled"])
    ticket_types: list[TicketTypeResponse]


class TicketTypeAddedResponse(EventResponse):
    ticket_type: TicketTypeResponse


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
