"""Public request and response bodies (responses mirror the internal services' documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from gateway.domain.passwords import MAX_PASSWORD_LENGTH
from gateway.domain.users import User
from service_kit.http_errors import ErrorResponse
from ticketing_contracts.fields import PersonName
from ticketing_contracts.internal_http import Role

ItemT = TypeVar("ItemT")


class Document(BaseModel):
    """Read-model documents may carry more fields than listed here."""

    model_config = ConfigDict(extra="allow")


class PageOf(Document, Generic[ItemT]):
    items: list[ItemT]
    page: int = Field(examples=[1])
    size: int = Field(examples=[20])
    total: int = Field(examples=[42])


class Written(Document):
    version: int | None = Field(default=None, description="Version of the resource after the write")
    position: int | None = Field(
        default=None, description="Write position; reads by the same caller wait for it"
    )


class VenueOut(Written):
    id: UUID
    name: str = Field(examples=["Royal Albert Hall"])
    capacity: int = Field(examples=[5272])
    address: str = Field(examples=["Kensington Gore, London SW7 2AP"])


_SALE_STARTS = "Bookings are refused (409 not_on_sale) before this time; null: no bound"
_SALE_ENDS = "Bookings are refused (409 not_on_sale) from this time on; null: no bound"


class SaleWindowOverride(Document):
    sale_starts_at: datetime | None = Field(default=None, description="null: the event's")
    sale_ends_at: datetime | None = Field(default=None, description="null: the event's")


class TicketTypeSale(Document):
    """A ticket type's sale window as bookings are checked against it (its own bounds,
    else the event's), its own purchase limit, and the bounds set on it."""

    sale_starts_at: datetime | None = Field(default=None, description=_SALE_STARTS)
    sale_ends_at: datetime | None = Field(default=None, description=_SALE_ENDS)
    max_tickets_per_account: int | None = Field(
        default=None,
        examples=[2],
        description="Its own limit per account (the event's applies as well); null: none",
    )
    sales_closed: bool = Field(
        default=False,
        description="Closed by the organiser: bookings are answered 409 sales_closed",
    )
    sale_window_override: SaleWindowOverride | None = None


class EventSale(Document):
    sale_starts_at: datetime | None = Field(default=None, description=_SALE_STARTS)
    sale_ends_at: datetime | None = Field(default=None, description=_SALE_ENDS)
    max_tickets_per_account: int | None = Field(
        default=None,
        examples=[4],
        description="The most tickets of the event one account may hold or buy (pending and "
        "confirmed bookings); null: no limit",
    )
    hold_minutes: int | None = Field(
        default=None,
        examples=[10],
        description="How long a booking's tickets are held for its payment; null: the default",
    )
    waitlist_offer_minutes: int | None = Field(
        default=None,
        examples=[30],
        description="How long a waitlist offer holds its tickets; null: the default",
    )


class TicketTypeOut(TicketTypeSale):
    ticket_type_id: UUID
    name: str = Field(examples=["Stalls"])
    price: str = Field(examples=["49.50"])
    currency: str = Field(examples=["EUR"])
    quantity: int = Field(examples=[1000])


class VenueSummaryOut(Document):
    id: UUID
    name: str = Field(examples=["Royal Albert Hall"])


class EventOut(Written, EventSale):
    id: UUID
    venue_id: UUID | None = Field(default=None, description="In lists and command answers")
    venue: VenueSummaryOut | None = Field(default=None, description="In single-event reads")
    name: str = Field(examples=["Flash Sale Live"])
    description: str = ""
    starts_at: datetime
    status: str = Field(examples=["published"])
    tickets_sold: int | None = Field(default=None, examples=[120])
    ticket_types: list[TicketTypeOut] = []


class TicketTypeAvailability(TicketTypeSale):
    ticket_type_id: UUID
    quantity: int = Field(examples=[1000])
    reserved: int = Field(examples=[12])
    sold: int = Field(examples=[980])
    available: int = Field(examples=[8])
    sold_out: bool = False


class AvailabilityOut(EventSale):
    event_id: UUID
    ticket_types: list[TicketTypeAvailability]


class BookingOut(Written):
    id: UUID
    status: str = Field(examples=["PENDING"])
    event_id: UUID | None = None
    ticket_type_id: UUID | None = None
    quantity: int | None = Field(default=None, examples=[2])
    total_price: str | None = Field(default=None, examples=["99.00"])
    currency: str | None = Field(default=None, examples=["EUR"])
    hold_expires_at: datetime | None = None
    reason: str | None = Field(
        default=None,
        examples=["sold_out", "payment_declined", "event_cancelled"],
        description="Why the booking ended: REJECTED's reason, or `event_cancelled` for a "
        "booking CANCELLED because its event was",
    )
    payment_status: str | None = Field(
        default=None,
        examples=["captured"],
        description="pending until the total is charged, then captured (refunded if it was "
        "given back), or declined; null when no payment is to come",
    )
    payment_reference: str | None = Field(
        default=None,
        examples=["pi_3MtwBwLkdIwHu7ix28a3tqPa"],
        description="The payment provider's id of the captured payment",
    )


class BookingRefused(ErrorResponse):
    """A 409: `error_type` says why. `not_on_sale` carries the ticket type's sale window;
    `purchase_limit_reached` the limit and the account's tickets within it."""

    sale_starts_at: datetime | None = Field(default=None, description="not_on_sale")
    sale_ends_at: datetime | None = Field(default=None, description="not_on_sale")
    limit_scope: Literal["event", "ticket_type"] | None = Field(
        default=None, description="purchase_limit_reached: the event's or the ticket type's"
    )
    max_tickets_per_account: int | None = Field(default=None, description="purchase_limit_reached")
    tickets_held_or_bought: int | None = Field(
        default=None,
        description="purchase_limit_reached: the account's pending and confirmed tickets "
        "within that limit",
    )


class BookingStatusEvent(BaseModel):
    id: UUID
    status: str = Field(examples=["CONFIRMED"])
    reason: str | None = None


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(examples=["zoe@example.com"])
    password: str = Field(
        min_length=1,
        max_length=MAX_PASSWORD_LENGTH,
        description="At least 10 characters mixing two kinds (lower, upper, digits, symbols); "
        "not a common password, not containing your email.",
        examples=["Correct-Horse-42"],
    )
    name: PersonName = Field(examples=["Zoë O'Brien"])


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(
        min_length=1,
        max_length=MAX_PASSWORD_LENGTH,
        description="The same rules as at registration.",
        examples=["Another-Horse-43"],
    )


class UserOut(BaseModel):
    id: UUID
    email: EmailStr
    name: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
        )


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(examples=["manager"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires", examples=[1800])
