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
from ticketing_contracts.fields import TicketQuantity

# Inventory's own bound is a setting at or below this; this one only stops a huge body.
MAX_HOLDS_PER_BATCH: Final = 10_000
MAX_KNOWN_BOOKINGS_QUESTION: Final = 10_000

HOLD_RELEASED: Final = "hold_released"
HoldRefusal = RejectionReason | Literal["hold_released"]
"""Why inventory refused a hold: one of its rejection reasons (sold_out,
not_enough_tickets, unknown_event, unknown_ticket_type, event_not_on_sale,
event_cancelled), or `hold_released`: this booking id was held before and its hold was
released (unclaimed, expired, cancelled, rejected), so it is never held again."""


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HoldRequest(_Body):
    booking_id: UUID = Field(description="The booking the tickets are held for; decides once")
    event_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity = Field(examples=[2])


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
    booking_id: UUID
    outcome: Literal["refused"] = "refused"
    reason: HoldRefusal = Field(examples=["sold_out"])


HoldAnswer = Annotated[Held | Refused, Field(discriminator="outcome")]


class HoldBatchAnswer(_Body):
    answers: list[HoldAnswer] = Field(description="One answer per request, in request order")


class KnownBookingsQuestion(_Body):
    booking_ids: list[UUID] = Field(min_length=1, max_length=MAX_KNOWN_BOOKINGS_QUESTION)


class KnownBookings(_Body):
    known: list[UUID] = Field(description="The asked ids of bookings that are stored")
