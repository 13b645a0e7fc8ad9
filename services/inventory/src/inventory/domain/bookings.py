"""What inventory remembers about each booking, so each transition happens once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


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


@dataclass
class BookingRecord:
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: int
    state: BookingState

    @property
    def holds_reservation(self) -> bool:
        return self.state is BookingState.RESERVED
