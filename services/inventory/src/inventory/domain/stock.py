"""Stock of one ticket type and the inventory of one show (event)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from inventory.domain.sale import NO_TERMS, SaleTerms, SaleWindow, effective_window


class InventoryInvariantViolated(Exception):
    """A change would break `reserved + sold <= quantity`; the ledger never asks for one."""


class ShowStatus(StrEnum):
    DRAFT = "draft"
    ON_SALE = "on_sale"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StockSnapshot:
    ticket_type_id: UUID
    quantity: int
    reserved: int
    sold: int
    version: int

    @property
    def available(self) -> int:
        return self.quantity - self.reserved - self.sold


@dataclass
class TicketStock:
    """Tickets of one type: `available = quantity - reserved - sold`, never negative."""

    ticket_type_id: UUID
    quantity: int
    reserved: int = 0
    sold: int = 0
    version: int = 0
    # Its own sale terms (not part of the stock: changing them moves no stock version).
    sale: SaleTerms = NO_TERMS

    @property
    def available(self) -> int:
        return self.quantity - self.reserved - self.sold

    def snapshot(self) -> StockSnapshot:
        return StockSnapshot(
            self.ticket_type_id, self.quantity, self.reserved, self.sold, self.version
        )

    def reserve(self, tickets: int) -> None:
        if tickets <= 0 or tickets > self.available:
            raise InventoryInvariantViolated(
                f"cannot reserve {tickets} of {self.available} available"
            )
        self.reserved += tickets
        self.version += 1

    def sell_reserved(self, tickets: int) -> None:
        if tickets <= 0 or tickets > self.reserved:
            raise InventoryInvariantViolated(f"cannot sell {tickets} of {self.reserved} reserved")
        self.reserved -= tickets
        self.sold += tickets
        self.version += 1

    def release_reserved(self, tickets: int) -> None:
        if tickets <= 0 or tickets > self.reserved:
            raise InventoryInvariantViolated(
                f"cannot release {tickets} of {self.reserved} reserved"
            )
        self.reserved -= tickets
        self.version += 1

    def release_sold(self, tickets: int) -> None:
        if tickets <= 0 or tickets > self.sold:
            raise InventoryInvariantViolated(f"cannot release {tickets} of {self.sold} sold")
        self.sold -= tickets
        self.version += 1


@dataclass
class ShowInventory:
    """Everything inventory knows about one show; `version` guards concurrent writers."""

    event_id: UUID
    status: ShowStatus = ShowStatus.DRAFT
    ticket_types: dict[UUID, TicketStock] = field(default_factory=dict)
    version: int = 0
    sale: SaleTerms = NO_TERMS

    def learn_ticket_type(
        self, ticket_type_id: UUID, quantity: int, sale: SaleTerms = NO_TERMS
    ) -> TicketStock | None:
        """Adds a ticket type once; returns it when it is new."""
        if ticket_type_id in self.ticket_types:
            return None
        stock = TicketStock(ticket_type_id, quantity, sale=sale)
        self.ticket_types[ticket_type_id] = stock
        return stock

    def sale_window(self, ticket_type_id: UUID) -> SaleWindow:
        stock = self.ticket_types.get(ticket_type_id)
        return effective_window(self.sale, stock.sale if stock is not None else NO_TERMS)

    @property
    def has_purchase_limits(self) -> bool:
        return self.sale.max_tickets_per_account is not None or any(
            stock.sale.max_tickets_per_account is not None for stock in self.ticket_types.values()
        )

    def change_sale(self, terms: SaleTerms) -> bool:
        if terms == self.sale:
            return False
        self.sale = terms
        return True

    def change_ticket_type_sale(self, ticket_type_id: UUID, terms: SaleTerms) -> bool:
        """False when nothing changed, or the ticket type is not known (yet)."""
        stock = self.ticket_types.get(ticket_type_id)
        if stock is None or stock.sale == terms:
            return False
        stock.sale = terms
        return True

    def publish(self) -> bool:
        if self.status is not ShowStatus.DRAFT:
            return False
        self.status = ShowStatus.ON_SALE
        return True

    def cancel(self) -> bool:
        if self.status is ShowStatus.CANCELLED:
            return False
        self.status = ShowStatus.CANCELLED
        return True
