"""Command bodies the gateway sends to booking-command; both validate with these models.

Prices, totals, ids and owners are never part of a command a client controls:
the write side computes or assigns them.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ticketing_contracts.fields import (
    Address,
    Capacity,
    Currency,
    CustomerEmail,
    Description,
    HoldMinutes,
    Identifier,
    Money,
    PaymentToken,
    PersonName,
    PurchaseLimit,
    TicketQuantity,
    Title,
)


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class CreateVenue(Command):
    name: Title = Field(examples=["Royal Albert Hall"])
    capacity: Capacity = Field(examples=[5272])
    address: Address = Field(examples=["Kensington Gore, London SW7 2AP"])


class UpdateVenue(CreateVenue):
    pass


class SaleTerms(Command):
    """When tickets are on sale and how many one account may hold or buy; each is optional.

    On an event: its sale window (null: no bound) and the most tickets of the whole event
    one account may hold or buy. On a ticket type: its own sale window, each bound
    overriding the event's (null: the event's), and a limit for that type alone (the
    event's applies as well).
    """

    sale_starts_at: AwareDatetime | None = Field(
        default=None,
        description="Bookings are refused (409 not_on_sale) before this time",
        examples=["2030-05-01T10:00:00Z"],
    )
    sale_ends_at: AwareDatetime | None = Field(
        default=None,
        description="Bookings are refused (409 not_on_sale) from this time on",
        examples=["2030-06-01T18:00:00Z"],
    )
    max_tickets_per_account: PurchaseLimit | None = Field(
        default=None,
        description=(
            "The most tickets one account may hold or buy at once (pending and confirmed "
            "bookings; cancelled, expired and rejected ones give theirs back); 409 "
            "purchase_limit_reached beyond it"
        ),
        examples=[4],
    )

    @model_validator(mode="after")
    def _sale_ends_after_it_starts(self) -> SaleTerms:
        starts, ends = self.sale_starts_at, self.sale_ends_at
        if starts is not None and ends is not None and ends <= starts:
            raise ValueError("sale_ends_at must be after sale_starts_at")
        return self


class ChangeSaleTerms(SaleTerms):
    """Replaces an event's or a ticket type's sale terms: all three, a null clears one."""


class ChangeEventSaleTerms(ChangeSaleTerms):
    """Replaces an event's sale terms: its window, its limit and how long its tickets are
    held, all of them (a null clears one: the window's bound, the limit, or the service's
    default hold)."""

    hold_minutes: HoldMinutes | None = Field(
        default=None,
        description="How long a booking's tickets are held for its payment (null: the "
        "service's default)",
        examples=[10],
    )
    waitlist_offer_minutes: HoldMinutes | None = Field(
        default=None,
        description="How long a waitlist offer holds its tickets for the fan (null: the "
        "service's default)",
        examples=[30],
    )


class TicketTypeSpec(SaleTerms):
    name: Title = Field(examples=["Stalls"])
    price: Money = Field(examples=["49.50"])
    currency: Currency = Field(default="EUR", examples=["EUR"])
    quantity: Capacity = Field(examples=[1000])


class CreateEvent(SaleTerms):
    venue_id: UUID
    name: Title = Field(examples=["Flash Sale Live"])
    description: Description = ""
    starts_at: AwareDatetime = Field(description="Start time with a UTC offset, in the future")
    ticket_types: list[TicketTypeSpec] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _ticket_type_names_are_unique(self) -> CreateEvent:
        names = [ticket_type.name.casefold() for ticket_type in self.ticket_types]
        if len(names) != len(set(names)):
            raise ValueError("ticket type names must be unique within an event")
        return self


class ChangeEventDetails(Command):
    name: Title
    description: Description = ""


class AddTicketType(TicketTypeSpec):
    pass


class ChangeTicketType(Command):
    """Changes what is given of a ticket type while it sells (at least one field): its name,
    its price (for bookings made from now on), its quantity (a lower one never below the
    tickets sold, held or offered: 409 `quantity_below_taken`) or whether its sales are
    closed (bookings refused `sales_closed` until reopened)."""

    name: Title | None = Field(default=None, examples=["Front stalls"])
    price: Money | None = Field(default=None, examples=["55.00"])
    quantity: Capacity | None = Field(default=None, examples=[1200])
    sales_closed: bool | None = Field(default=None, examples=[True])

    @model_validator(mode="after")
    def _changes_something(self) -> ChangeTicketType:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError("give at least one of name, price, quantity and sales_closed")
        return self


class RescheduleEvent(Command):
    starts_at: AwareDatetime


class CancelEvent(Command):
    reason: Description = ""


class RequestBooking(Command):
    event_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity = Field(examples=[2])
    customer_name: PersonName = Field(examples=["Zoë O'Brien-Łukasz"])
    customer_email: CustomerEmail = Field(examples=["zoe@example.com"])
    payment_token: PaymentToken = Field(
        repr=False,
        examples=["tok_visa"],
        description=(
            "What the payment provider's client-side tokenisation returned; the booking's "
            "total is charged with it once the tickets are reserved"
        ),
    )
    offer_id: UUID | None = Field(
        default=None,
        description=(
            "The waitlist offer this booking takes up (same ticket type and quantity): the "
            "tickets held for the caller become the booking's hold; 409 `offer_not_valid` "
            "when the offer is not the caller's or is over"
        ),
    )


class CancelBooking(Command):
    reason: Description = ""


class BookingRequestItem(Command):
    """One client's booking request inside a batch the gateway coalesced."""

    caller_id: Identifier
    caller_role: Literal["admin", "manager", "user"]
    idempotency_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:\-]{1,200}$")
    correlation_id: Identifier | None = None
    command: RequestBooking


class RequestBookingBatch(Command):
    """Concurrent booking requests sent as one internal call and stored in one transaction
    (group commit); each item keeps its own caller, idempotency key and correlation id."""

    requests: list[BookingRequestItem] = Field(min_length=1, max_length=1000)


class BookingRequestOutcome(BaseModel):
    """What a single `POST /internal/v1/bookings` would have answered for that item: the
    status code and its JSON body (the booking, or the shared error shape)."""

    status_code: int = Field(ge=100, le=599)
    body: dict[str, Any]


class RequestBookingBatchResult(BaseModel):
    outcomes: list[BookingRequestOutcome] = Field(description="One per request, in order")
