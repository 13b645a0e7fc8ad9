"""The commands booking-command handles, one handler each (`handlers.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from booking_command.domain.catalog_event import NO_SALE_TERMS, SaleTerms, TicketTypeSpec


@dataclass(frozen=True)
class RegisterVenue:
    name: str
    capacity: int
    address: str


@dataclass(frozen=True)
class UpdateVenue:
    venue_id: UUID
    name: str
    capacity: int
    address: str


@dataclass(frozen=True)
class DeleteVenue:
    venue_id: UUID


@dataclass(frozen=True)
class ScheduleEvent:
    venue_id: UUID
    name: str
    description: str
    starts_at: datetime
    ticket_types: Sequence[TicketTypeSpec]
    sale: SaleTerms = NO_SALE_TERMS


@dataclass(frozen=True)
class ChangeEventDetails:
    event_id: UUID
    name: str
    description: str


@dataclass(frozen=True)
class AddTicketType:
    event_id: UUID
    ticket_type: TicketTypeSpec


@dataclass(frozen=True)
class ChangeEventSale:
    """`hold_minutes`, `waitlist_offer_minutes` None: the services' default windows."""

    event_id: UUID
    sale: SaleTerms
    hold_minutes: int | None = None
    waitlist_offer_minutes: int | None = None


@dataclass(frozen=True)
class ChangeTicketTypeSale:
    event_id: UUID
    ticket_type_id: UUID
    sale: SaleTerms


@dataclass(frozen=True)
class ChangeTicketType:
    """What is given changes (None: stays as it is)."""

    event_id: UUID
    ticket_type_id: UUID
    name: str | None = None
    price: Decimal | None = None
    quantity: int | None = None
    sales_closed: bool | None = None


@dataclass(frozen=True)
class RemoveTicketType:
    event_id: UUID
    ticket_type_id: UUID


@dataclass(frozen=True)
class PublishEvent:
    event_id: UUID


@dataclass(frozen=True)
class RescheduleEvent:
    event_id: UUID
    starts_at: datetime


@dataclass(frozen=True)
class CancelEvent:
    event_id: UUID
    reason: str
    cancelled_by: str = ""


@dataclass(frozen=True)
class RequestBooking:
    """`booking_id` None: a new random id (see `bookings.booking_id_for`)."""

    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    customer_name: str
    customer_email: str
    owner_id: str
    payment_token: str
    booking_id: UUID | None = None
    offer_id: UUID | None = None


@dataclass(frozen=True)
class CancelBooking:
    booking_id: UUID
    caller_id: str
    is_admin: bool


Command = (
    RegisterVenue
    | UpdateVenue
    | DeleteVenue
    | ScheduleEvent
    | ChangeEventDetails
    | AddTicketType
    | ChangeEventSale
    | ChangeTicketTypeSale
    | ChangeTicketType
    | RemoveTicketType
    | PublishEvent
    | RescheduleEvent
    | CancelEvent
    | RequestBooking
    | CancelBooking
)
