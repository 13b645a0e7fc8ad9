"""What the query API returns: read-only views of the read models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ticketing_contracts.events import BookingStatus, PaymentStatus

ItemT = TypeVar("ItemT")
EventSort = Literal["starts_at", "-starts_at", "name", "-name", "popularity"]
EventStatusFilter = Literal["draft", "published", "cancelled"]


class View(BaseModel):
    """A read-model document; a resource's own id is published as `id`, as commands answer."""

    model_config = ConfigDict(frozen=True)


class Page(View, Generic[ItemT]):
    items: list[ItemT]
    page: int = Field(ge=1)
    size: int = Field(ge=1)
    total: int = Field(ge=0, description="Items matching the filters, over all pages")


class VenueView(View):
    venue_id: UUID = Field(serialization_alias="id")
    name: str
    capacity: int
    address: str
    version: int
    updated_at: datetime


class VenueSummary(View):
    venue_id: UUID = Field(serialization_alias="id")
    name: str
    address: str
    deleted: bool = False


_SALE_STARTS = "Bookings are refused (409 not_on_sale) before this time; null: no bound"
_SALE_ENDS = "Bookings are refused (409 not_on_sale) from this time on; null: no bound"
_EVENT_LIMIT = (
    "The most tickets of the event one account may hold or buy (pending and confirmed "
    "bookings); null: no limit"
)


class EventSaleTerms(View):
    """An event's sale window, purchase limit, and how long holds and waitlist offers last."""

    sale_starts_at: datetime | None = Field(default=None, description=_SALE_STARTS)
    sale_ends_at: datetime | None = Field(default=None, description=_SALE_ENDS)
    max_tickets_per_account: int | None = Field(default=None, description=_EVENT_LIMIT)
    hold_minutes: int | None = Field(
        default=None,
        description="How long a booking's tickets are held for its payment; null: the default",
    )
    waitlist_offer_minutes: int | None = Field(
        default=None, description="How long a waitlist offer holds its tickets; null: the default"
    )


class SaleWindowOverride(View):
    """The window bounds set on the ticket type itself; null: the event's."""

    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None


class TicketTypeSaleTerms(View):
    """A ticket type's sale window as bookings are checked against it (its own bounds,
    else the event's), its own purchase limit (the event's applies as well) and the bounds
    set on it."""

    sale_starts_at: datetime | None = Field(default=None, description=_SALE_STARTS)
    sale_ends_at: datetime | None = Field(default=None, description=_SALE_ENDS)
    max_tickets_per_account: int | None = Field(
        default=None, description="Its own limit per account; null: only the event's"
    )
    sales_closed: bool = Field(
        default=False,
        description="Closed by the organiser: bookings are refused (409 sales_closed)",
    )
    sale_window_override: SaleWindowOverride = SaleWindowOverride()


class TicketTypeView(TicketTypeSaleTerms):
    ticket_type_id: UUID
    name: str
    price: Decimal
    currency: str
    quantity: int
    reserved: int
    sold: int
    available: int
    sold_out: bool


class EventSummaryView(EventSaleTerms):
    event_id: UUID = Field(serialization_alias="id")
    venue_id: UUID
    venue_name: str | None
    name: str
    starts_at: datetime
    status: str
    tickets_sold: int
    version: int


class EventDetailsView(EventSaleTerms):
    event_id: UUID = Field(serialization_alias="id")
    name: str
    description: str
    starts_at: datetime
    status: str
    version: int
    venue: VenueSummary | None
    ticket_types: list[TicketTypeView]
    tickets_sold: int
    created_at: datetime
    updated_at: datetime


class PopularEventView(View):
    event_id: UUID = Field(serialization_alias="id")
    name: str
    venue_id: UUID
    starts_at: datetime
    status: str
    tickets_sold: int


class TicketAvailabilityView(TicketTypeSaleTerms):
    ticket_type_id: UUID
    quantity: int
    reserved: int
    sold: int
    available: int
    sold_out: bool
    stock_version: int


class AvailabilityView(EventSaleTerms):
    event_id: UUID
    ticket_types: list[TicketAvailabilityView]
    sold_out: bool = Field(description="True when no ticket type has tickets left")


class BookingView(View):
    booking_id: UUID = Field(serialization_alias="id")
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
    reason: str | None = Field(
        description="Why the booking ended: REJECTED's reason (sold_out, payment_declined, "
        "event_cancelled, ...), or event_cancelled for a booking CANCELLED with its event; "
        "null otherwise",
        examples=["event_cancelled"],
    )
    created_at: datetime | None
    updated_at: datetime | None
    payment_status: PaymentStatus | None = Field(
        default=None,
        description="pending until the total is charged, then captured (refunded if it "
        "was given back), or declined; null when no payment is to come",
    )
    payment_reference: str | None = Field(
        default=None, description="The payment provider's id of the captured payment"
    )


class PartitionPositionView(View):
    topic: str
    partition: int
    offset: int = Field(description="Next offset to apply (all before it are applied)")
    high_watermark: int | None
    lag: int | None = Field(description="Messages in the partition not yet applied")
    last_position: int | None = Field(description="Highest producer position applied here")
    last_occurred_at: datetime | None


class PositionsView(View):
    generation: int
    position: int | None = Field(description="Highest producer position applied")
    caught_up: bool
    partitions: list[PartitionPositionView]


class CatalogTicketType(View):
    """`sale_*` and `max_tickets_per_account`: the ticket type's own terms."""

    ticket_type_id: UUID
    name: str
    price: Decimal
    currency: str
    quantity: int
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    max_tickets_per_account: int | None = None
    sales_closed: bool = False

    def sale_terms(self, event: EventSaleTerms) -> TicketTypeSaleTerms:
        return TicketTypeSaleTerms(
            sale_starts_at=self.sale_starts_at
            if self.sale_starts_at is not None
            else event.sale_starts_at,
            sale_ends_at=self.sale_ends_at if self.sale_ends_at is not None else event.sale_ends_at,
            max_tickets_per_account=self.max_tickets_per_account,
            sales_closed=self.sales_closed,
            sale_window_override=SaleWindowOverride(
                sale_starts_at=self.sale_starts_at, sale_ends_at=self.sale_ends_at
            ),
        )


class EventCatalog(EventSaleTerms):
    """An event's catalog part (no stock): what the Redis event cache holds."""

    event_id: UUID
    venue_id: UUID
    name: str
    description: str
    starts_at: datetime
    status: str
    version: int
    venue_version: int | None
    venue: VenueSummary | None
    ticket_types: list[CatalogTicketType]
    removed_ticket_type_ids: list[UUID] = Field(
        default_factory=list, description="Ticket types the organiser removed: shown nowhere"
    )
    created_at: datetime
    updated_at: datetime


class EventFilters(View):
    q: str | None = None
    venue_id: UUID | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None
    status: EventStatusFilter | None = None
    sort: EventSort = "starts_at"


class BookingFilters(View):
    owner_id: str | None = None
    customer_email: str | None = None
    event_id: UUID | None = None
    status: BookingStatus | None = None


class BookingCountsView(View):
    event_id: UUID
    counts: dict[BookingStatus, int] = Field(
        description="Bookings of the event per status, every status present (0 if none)",
        examples=[{"PENDING": 0, "CONFIRMED": 10, "REJECTED": 3, "CANCELLED": 0, "EXPIRED": 0}],
    )
    total: int = Field(ge=0)
