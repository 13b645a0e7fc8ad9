"""Bodies of the synchronous hold call and of the question inventory asks back.

booking-command's group commit asks inventory to hold tickets for a batch of bookings
(`POST /internal/v1/holds` on inventory) before it stores them; inventory asks
booking-command which of the bookings it held for are stored (`POST
/internal/v1/bookings/known` on booking-command) before it releases an unclaimed hold.
Both sides of each call validate with these models.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ticketing_contracts.events.booking import RejectionReason
from ticketing_contracts.fields import Identifier, PurchaseLimit, StockCount, TicketQuantity

# Inventory's own bound is a setting at or below this; this one only stops a huge body.
MAX_HOLDS_PER_BATCH: Final = 10_000
MAX_KNOWN_BOOKINGS_QUESTION: Final = 10_000

HOLD_RELEASED: Final = "hold_released"
HoldRefusal = RejectionReason | Literal["hold_released"]
"""Why inventory refused a hold: one of its rejection reasons (sold_out,
not_enough_tickets, unknown_event, unknown_ticket_type, event_not_on_sale (a draft),
not_on_sale (outside the sale window), purchase_limit_reached, event_cancelled), or
`hold_released`: this booking id was held before and its hold was released (unclaimed,
expired, cancelled, rejected), so it is never held again."""
LimitScope = Literal["event", "ticket_type"]

# The fields of a refusal that say why, per reason; the caller passes them on to the fan.
REFUSAL_DETAILS: Final[dict[str, frozenset[str]]] = {
    RejectionReason.NOT_ON_SALE.value: frozenset({"sale_starts_at", "sale_ends_at"}),
    RejectionReason.PURCHASE_LIMIT_REACHED.value: frozenset(
        {"limit_scope", "max_tickets_per_account", "tickets_held_or_bought"}
    ),
}


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HoldRequest(_Body):
    booking_id: UUID = Field(description="The booking the tickets are held for; decides once")
    event_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity = Field(examples=[2])
    owner_id: Identifier = Field(
        description="The account the booking is for: purchase limits count per account",
        examples=["4f6c1d0e-6a0b-4d61-9a55-0c1b2d3e4f50"],
    )
    offer_id: UUID | None = Field(
        default=None,
        description="The waitlist offer this booking takes up: its tickets, held for the "
        "owner, become the booking's hold (refused `offer_not_valid` when the offer is not "
        "the owner's, has ended, or is for another ticket type or quantity)",
    )


class HoldBatch(_Body):
    holds: list[HoldRequest] = Field(min_length=1, max_length=MAX_HOLDS_PER_BATCH)

    @model_validator(mode="after")
    def _booking_ids_are_unique(self) -> HoldBatch:
        ids = [hold.booking_id for hold in self.holds]
        if len(ids) != len(set(ids)):
            raise ValueError("each booking_id may appear once in a batch")
        return self


class Held(_Body):
    booking_id: UUID
    outcome: Literal["held"] = "held"
    hold_expires_at: AwareDatetime | None = Field(
        description=(
            "When the hold ends unless the booking is confirmed; null only for a booking "
            "whose hold was made from its booking fact before this call existed"
        )
    )


class Refused(_Body):
    """A refusal; `not_on_sale` and `purchase_limit_reached` say why in their fields."""

    booking_id: UUID
    outcome: Literal["refused"] = "refused"
    reason: HoldRefusal = Field(examples=["sold_out"])
    sale_starts_at: AwareDatetime | None = Field(
        default=None, description="not_on_sale: the ticket type's sale window (null: no bound)"
    )
    sale_ends_at: AwareDatetime | None = None
    limit_scope: LimitScope | None = Field(
        default=None,
        description="purchase_limit_reached: whether the event's or the ticket type's limit",
    )
    max_tickets_per_account: PurchaseLimit | None = None
    tickets_held_or_bought: StockCount | None = Field(
        default=None,
        description="purchase_limit_reached: the account's tickets already held or bought "
        "within that limit (of the event, or of the ticket type)",
    )

    def details(self) -> dict[str, object]:
        """The fields that say why, as JSON values (nulls kept: an unbounded window)."""
        fields = REFUSAL_DETAILS.get(self.reason, frozenset())
        return self.model_dump(mode="json", include=set(fields))


HoldAnswer = Annotated[Held | Refused, Field(discriminator="outcome")]


class HoldBatchAnswer(_Body):
    answers: list[HoldAnswer] = Field(description="One answer per request, in request order")


class KnownBookingsQuestion(_Body):
    booking_ids: list[UUID] = Field(min_length=1, max_length=MAX_KNOWN_BOOKINGS_QUESTION)


class KnownBookings(_Body):
    known: list[UUID] = Field(description="The asked ids of bookings that are stored")
