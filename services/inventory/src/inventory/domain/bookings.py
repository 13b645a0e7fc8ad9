"""What inventory remembers about each booking, so each transition happens once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from ticketing_contracts.events import RejectionReason


class BookingState(StrEnum):
    # A request is decided in the batch that reads it, so REQUESTED is never stored;
    # it names the state a booking is in while its batch is being decided.
    REQUESTED = "requested"
    RESERVED = "reserved"
    SOLD = "sold"
    RELEASED = "released"
    REJECTED = "rejected"
    # The hold expired before inventory saw a request: a later request is not reserved.
    EXPIRED = "expired"
    # A hold made over HTTP that no stored booking claimed in time: its tickets went back.
    RELEASED_UNCLAIMED = "released_unclaimed"


TAKING_TICKETS = frozenset({BookingState.RESERVED, BookingState.SOLD})


@dataclass
class BookingRecord:
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    state: BookingState
    rejection_reason: RejectionReason | None = None
    hold_expires_at: datetime | None = None
    # Set while a hold made over HTTP waits for booking-command to store its booking.
    claim_by: datetime | None = None
    # The account the booking is for (None: decided before purchase limits, never counted).
    owner_id: str | None = None

    @property
    def holds_reservation(self) -> bool:
        return self.state is BookingState.RESERVED

    @property
    def takes_tickets(self) -> bool:
        """Held or bought: the tickets count against the account's purchase limits."""
        return self.state in TAKING_TICKETS

    @property
    def awaits_claim(self) -> bool:
        return self.state is BookingState.RESERVED and self.claim_by is not None
