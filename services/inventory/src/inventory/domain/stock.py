"""Stock of one ticket type and the inventory of one show (event)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from inventory.domain.sale import NO_TERMS, SaleTerms, SaleWindow, effective_window


class InventoryInvariantViolated(Exception):
    """A change would break `reserved + sold + offered <= quantity`; the ledger never asks
    for one."""


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
    offered: int = 0
    waitlist_open: bool = False

    @property
    def free(self) -> int:
        return self.quantity - self.reserved - self.sold - self.offered

    @property
    def available(self) -> int:
        """Tickets general sale may hold: none while the waitlist has open entries."""
        return 0 if self.waitlist_open else self.free


@dataclass
class TicketStock:
    """Tickets of one type: `free = quantity - reserved - sold - offered`, never negative.

    `offered` tickets are held for waitlist offers. While the ticket type's waitlist has open
    entries (`open_entries`, counted when loaded, never stored) general sale gets none of the
    free tickets: they go to the waitlist first, so `available` is 0.
    """

    ticket_type_id: UUID
    quantity: int
    reserved: int = 0
    sold: int = 0
    version: int = 0
    # Its own sale terms (not part of the stock: changing them moves no stock version).
    sale: SaleTerms = NO_TERMS
    offered: int = 0
    sales_closed: bool = False
    removed: bool = False
    open_entries: int = 0

    @property
    def free(self) -> int:
        return self.quantity - self.reserved - self.sold - self.offered

    @property
    def taken(self) -> int:
        """What a lower quantity may not go below: sold, held and offered."""
        return self.reserved + self.sold + self.offered

    @property
    def available(self) -> int:
        return 0 if self.open_entries else self.free

    def snapshot(self) -> StockSnapshot:
        return StockSnapshot(
            self.ticket_type_id,
            self.quantity,
            self.reserved,
            self.sold,
            self.version,
            self.offered,
            self.open_entries > 0,
        )

    def count_entries(self, change: int) -> bool:
        """An entry of the waitlist opened (+1) or ended (-1); True when that changed what
        general sale may hold (a new stock version)."""
        before = self.available
        self.open_entries += change
        if self.open_entries < 0:
            raise InventoryInvariantViolated("more waitlist entries ended than were open")
        if self.available == before:
            return False
        self.version += 1
        return True

    def offer(self, tickets: int) -> None:
        if tickets <= 0 or tickets > self.free:
            raise InventoryInvariantViolated(f"cannot offer {tickets} of {self.free} free")
        self.offered += tickets
        self.version += 1

    def end_offer(self, tickets: int) -> None:
        if tickets <= 0 or tickets > self.offered:
            raise InventoryInvariantViolated(f"cannot end {tickets} of {self.offered} offered")
        self.offered -= tickets
        self.version += 1

    def take_offered(self, tickets: int) -> None:
        """An offer booked: its tickets become the booking's hold."""
        if tickets <= 0 or tickets > self.offered:
            raise InventoryInvariantViolated(f"cannot hold {tickets} of {self.offered} offered")
        self.offered -= tickets
        self.reserved += tickets
        self.version += 1

    def change_quantity(self, quantity: int) -> bool:
        if quantity < self.taken:
            raise InventoryInvariantViolated(f"cannot lower to {quantity} below {self.taken}")
        if quantity == self.quantity:
            return False
        self.quantity = quantity
        self.version += 1
        return True

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


@dataclass(frozen=True)
class HoldWindows:
    """How long an event's holds and waitlist offers last (None: the service's default)."""

    hold_minutes: int | None = None
    offer_minutes: int | None = None

    def hold_for(self, default: timedelta) -> timedelta:
        return timedelta(minutes=self.hold_minutes) if self.hold_minutes else default

    def offer_for(self, default: timedelta) -> timedelta:
        return timedelta(minutes=self.offer_minutes) if self.offer_minutes else default


NO_WINDOWS = HoldWindows()


@dataclass
class ShowInventory:
    """Everything inventory knows about one show; `version` guards concurrent writers."""

    event_id: UUID
    status: ShowStatus = ShowStatus.DRAFT
    ticket_types: dict[UUID, TicketStock] = field(default_factory=dict)
    version: int = 0
    sale: SaleTerms = NO_TERMS
    windows: HoldWindows = NO_WINDOWS
    # How many fans ever joined a waitlist of the show: the next entry's place in order.
    waitlist_joins: int = 0

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

    def change_windows(self, windows: HoldWindows) -> bool:
        if windows == self.windows:
            return False
        self.windows = windows
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
