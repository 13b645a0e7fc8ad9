"""Bodies of the calls the reconciliation after a restore makes (issue 24).

`python -m booking_command reconcile` compares booking-command's event store with what
inventory and the read models hold, with booking-command's own token: it reads each
event's bookings and stock from inventory (`GET /internal/v1/reconciliation/events/{id}`)
and from query-projection (the same path there), asks inventory to release the tickets of
bookings the event store does not hold (`POST /internal/v1/reconciliation/releases`) and
has query-projection set aside the facts the event store no longer holds (`PUT
/internal/v1/reconciliation/set-aside`). Both sides of each call validate with these models.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ticketing_contracts.fields import StockCount, TicketQuantity

MAX_RELEASES: Final = 10_000
MAX_SET_ASIDE: Final = 10_000
MAX_HELD_FACTS: Final = 10_000


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventIds(_Body):
    event_ids: list[UUID] = Field(description="Every event the service knows")
    highest_position: int | None = Field(
        default=None,
        ge=0,
        description="The read models only: the highest event-store position they applied",
    )


class TicketTypeCount(_Body):
    ticket_type_id: UUID
    quantity: StockCount
    reserved: StockCount
    sold: StockCount


class InventoryBooking(_Body):
    booking_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity
    state: str = Field(
        description=(
            "reserved, sold (taking tickets), or released, rejected, expired, "
            "released_unclaimed (taking none)"
        ),
        examples=["sold"],
    )


class InventoryEvent(_Body):
    """An event as inventory holds it: its stock and every booking it decided."""

    event_id: UUID
    status: str = Field(examples=["on_sale"])
    ticket_types: list[TicketTypeCount]
    bookings: list[InventoryBooking]


class ReadModelBooking(_Body):
    booking_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity
    status: str = Field(examples=["CONFIRMED"])
    version: int = Field(ge=0, description="The booking's aggregate version the row shows")
    payment_status: str | None = None
    payment_reference: str | None = None
    customer_email: str | None = None
    total_price: Decimal | None = None
    currency: str | None = None


class ReadModelEvent(_Body):
    """An event as the read models show it: availability and every booking of it."""

    event_id: UUID
    version: int | None = Field(
        default=None, ge=0, description="The event's aggregate version its row shows (none: no row)"
    )
    updated_at: AwareDatetime | None = Field(
        default=None, description="When the newest fact the row shows was recorded"
    )
    ticket_types: list[TicketTypeCount]
    bookings: list[ReadModelBooking]


class ReleaseBookings(_Body):
    booking_ids: list[UUID] = Field(min_length=1, max_length=MAX_RELEASES)


class Releases(_Body):
    released: list[UUID] = Field(description="Their tickets went back (held or sold)")
    stored: list[UUID] = Field(
        description="booking-command stores these bookings after all: nothing released"
    )
    taking_no_tickets: list[UUID] = Field(
        description="Unknown to inventory, or already taking no tickets"
    )


class SetAsideFacts(_Body):
    """Of aggregate `subject`, the facts recorded up to `recorded_until` that the event store
    holds are `held_event_ids` (none: it holds nothing of it); every other such fact is set
    aside: left out of the read models from the next rebuild on."""

    subject: UUID
    held_event_ids: list[UUID] = Field(max_length=MAX_HELD_FACTS)
    recorded_until: AwareDatetime


class SetAside(_Body):
    facts: list[SetAsideFacts] = Field(min_length=1, max_length=MAX_SET_ASIDE)


class SetAsideAnswer(_Body):
    set_aside: int = Field(ge=0, description="Aggregates whose facts are now set aside")
