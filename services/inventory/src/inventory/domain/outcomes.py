"""What a decision produced.

The per-booking outcomes say what happened to each booking a transaction decided (its
answer, its metrics). What is published is the stock: one `StockChanged` per ticket type
a transaction changed, with the stock after all of it, and a `ReservationRejected` for a
booking decided from its fact and refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from inventory.domain.sale import PurchaseLimitReached, SaleWindow
from inventory.domain.stock import StockSnapshot

# The reasons are part of the public contract; they are plain enums, reused as they are.
from ticketing_contracts.events import RejectionReason, ReleaseReason

# Rejections that only say "the catalog has not told us (yet)": decided after catching up.
CATALOG_DEPENDENT_REJECTIONS = frozenset(
    {
        RejectionReason.UNKNOWN_EVENT,
        RejectionReason.UNKNOWN_TICKET_TYPE,
        RejectionReason.EVENT_NOT_ON_SALE,
    }
)

# Refusals of a hold that depend on the time or on the account's other bookings: not
# remembered, so the same booking id is decided again when it is asked again (the window
# opened, a booking of the account ended). A refusal is stored nowhere by booking-command.
UNREMEMBERED_HOLD_REFUSALS = frozenset(
    {
        RejectionReason.NOT_ON_SALE,
        RejectionReason.PURCHASE_LIMIT_REACHED,
        # The organiser may reopen the sales.
        RejectionReason.SALES_CLOSED,
    }
)


@dataclass(frozen=True)
class BookingLine:
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    # The account it is for: every new booking names one (None: a fact that does not).
    owner_id: str | None = None
    # The waitlist offer whose tickets it takes up (only a hold asked for over HTTP).
    offer_id: UUID | None = None


RefusalDetail = SaleWindow | PurchaseLimitReached
"""What a refusal says beside its reason: the window of `not_on_sale`, the limit of
`purchase_limit_reached`."""


@dataclass(frozen=True)
class Refusal:
    reason: RejectionReason
    detail: RefusalDetail | None = None


@dataclass(frozen=True)
class TicketsReserved:
    booking: BookingLine
    stock: StockSnapshot


@dataclass(frozen=True)
class ReservationRejected:
    booking: BookingLine
    reason: RejectionReason
    stock: StockSnapshot | None
    detail: RefusalDetail | None = None


@dataclass(frozen=True)
class TicketsSold:
    booking: BookingLine
    stock: StockSnapshot


@dataclass(frozen=True)
class TicketsReleased:
    booking: BookingLine
    reason: ReleaseReason
    stock: StockSnapshot


@dataclass(frozen=True)
class StockInitialised:
    event_id: UUID
    stock: StockSnapshot


@dataclass(frozen=True)
class StockChanged:
    """The stock of one ticket type after everything one transaction decided."""

    event_id: UUID
    stock: StockSnapshot


BookingOutcome = TicketsReserved | ReservationRejected | TicketsSold | TicketsReleased
Outcome = BookingOutcome | StockInitialised
# The outcomes that moved a ticket type's stock (a rejection leaves it as it was).
StockMove = TicketsReserved | TicketsSold | TicketsReleased | StockInitialised
