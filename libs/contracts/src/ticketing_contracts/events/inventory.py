"""Public inventory outcomes on `ticketing.inventory.v1`, keyed by the show id.

Every outcome carries the ticket type's stock after it and a per-ticket-type
`stock_version`, so read models can ignore anything older than what they hold.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ticketing_contracts.events.base import PublicEvent, register
from ticketing_contracts.events.booking import RejectionReason
from ticketing_contracts.fields import LogPosition, StockCount, TicketQuantity
from ticketing_contracts.topics import INVENTORY_EVENTS


class StockLevel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    quantity: StockCount
    reserved: StockCount
    sold: StockCount
    available: StockCount


class ReleaseReason(StrEnum):
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"  # after the reservation, e.g. the payment was declined


class _InventoryOutcome(PublicEvent):
    TOPIC: ClassVar[str] = INVENTORY_EVENTS
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    quantity: TicketQuantity
    stock: StockLevel | None = Field(
        default=None, description="Stock after the outcome; absent when the ticket type is unknown"
    )
    stock_version: LogPosition = 0

    def subject(self) -> str:
        return str(self.booking_id)


@register
class TicketsReserved(_InventoryOutcome):
    TYPE: ClassVar[str] = "inventory.tickets_reserved"
    VERSION: ClassVar[int] = 1


@register
class ReservationRejected(_InventoryOutcome):
    TYPE: ClassVar[str] = "inventory.reservation_rejected"
    VERSION: ClassVar[int] = 1
    reason: RejectionReason


@register
class TicketsSold(_InventoryOutcome):
    """A reservation became a sale when its booking was confirmed."""

    TYPE: ClassVar[str] = "inventory.tickets_sold"
    VERSION: ClassVar[int] = 1


@register
class TicketsReleased(_InventoryOutcome):
    TYPE: ClassVar[str] = "inventory.tickets_released"
    VERSION: ClassVar[int] = 1
    reason: ReleaseReason


class StockInitialised(PublicEvent):
    """Inventory learned a ticket type; published so read models start from its stock."""

    TOPIC: ClassVar[str] = INVENTORY_EVENTS
    TYPE: ClassVar[str] = "inventory.stock_initialised"
    VERSION: ClassVar[int] = 1
    event_id: UUID
    ticket_type_id: UUID
    stock: StockLevel
    stock_version: LogPosition

    def subject(self) -> str:
        return str(self.ticket_type_id)


register(StockInitialised)
