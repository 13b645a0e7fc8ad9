"""Bodies of inventory's waitlist routes (the gateway forwards the public ones under
`/internal/v1`) and of booking-command's question before a ticket type's quantity goes down
or the type is removed.

A ticket type's waitlist is ordered by joining. While it has entries, tickets that come
back go to it before general sale: the first entry gets an **offer** once enough tickets
are free for its whole quantity (nobody behind it is served first), the tickets held for
it until the offer expires; an offer that expires or is declined passes them on.
"""

from __future__ import annotations

from typing import Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ticketing_contracts.fields import (
    Capacity,
    CustomerEmail,
    PersonName,
    StockCount,
    TicketQuantity,
)

WaitlistState = Literal[
    "waiting", "offered", "accepted", "declined", "expired", "left", "cancelled"
]
OPEN_STATES: Final = ("waiting", "offered")


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JoinWaitlist(_Body):
    """`POST /api/v1/events/{event_id}/ticket-types/{ticket_type_id}/waitlist`: only while
    the ticket type is sold out to general sale (409 `not_sold_out` otherwise); one entry
    per account and ticket type (joining again answers the open entry, 200); the quantity
    within the purchase limits (409 `purchase_limit_reached`)."""

    quantity: TicketQuantity = Field(examples=[2])
    customer_name: PersonName
    customer_email: CustomerEmail


class WaitlistOffer(_Body):
    offer_id: UUID
    quantity: TicketQuantity
    expires_at: AwareDatetime


class WaitlistEntry(_Body):
    """A fan's place (`GET /api/v1/waitlist/entries`: the caller's own entries)."""

    entry_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity
    state: WaitlistState
    position: int | None = Field(
        description="1 for the next fan to get an offer; null once the entry is not waiting"
    )
    joined_at: AwareDatetime
    offer: WaitlistOffer | None = Field(
        default=None, description="The open offer (state `offered`): book with its offer_id"
    )


class WaitlistEntries(_Body):
    entries: list[WaitlistEntry]


class TicketTypeWaitlist(_Body):
    """The organiser's view (`GET /api/v1/events/{event_id}/waitlist`, managers and admins)."""

    ticket_type_id: UUID
    waiting: StockCount = Field(description="Entries waiting")
    tickets_wanted: StockCount = Field(description="Tickets the waiting entries want")
    offers_open: StockCount
    tickets_offered: StockCount
    accepted: StockCount
    expired_or_declined: StockCount


class EventWaitlist(_Body):
    event_id: UUID
    ticket_types: list[TicketTypeWaitlist]


class TicketTypeChangeQuestion(_Body):
    """booking-command asks inventory (`POST /internal/v1/ticket-type-changes`) before it
    stores a lower quantity or a removal; inventory applies a lower quantity at once (so no
    hold can take the tickets meanwhile) or refuses 409 `quantity_below_taken` /
    `ticket_type_in_use` with the figures."""

    change_id: UUID = Field(description="Idempotency: the same change asked again answers the same")
    event_id: UUID
    ticket_type_id: UUID
    quantity: Capacity | None = Field(default=None, description="The new, lower quantity")
    remove: bool = False


class TicketTypeTaken(_Body):
    """What inventory counts against a lower quantity or a removal."""

    ticket_type_id: UUID
    quantity: StockCount
    sold: StockCount
    held: StockCount
    offered: StockCount


class TicketTypeChangeAnswer(_Body):
    outcome: Literal["applied", "refused"]
    reason: Literal["quantity_below_taken", "ticket_type_in_use"] | None = None
    taken: TicketTypeTaken
