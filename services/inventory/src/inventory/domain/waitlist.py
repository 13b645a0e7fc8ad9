"""A ticket type's waitlist: who is next, and when an offer is made or ends.

Entries are served in the order they joined (`number`, counted per show under its lock).
Tickets that come back go to the waitlist before general sale while it has open entries:
the first waiting entry gets an offer once the free tickets cover its whole quantity, and
nobody behind it is served first, even when fewer free tickets would cover their smaller
quantity (so nobody is skipped). An offer holds its tickets until it expires; one that
expires, is declined or whose fan leaves gives them back, and the next entry is offered.
An entry gets at most one offer: once its offer ends, the entry ends with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID, uuid5

from inventory.domain.sale import PurchaseLimitReached, SaleWindow
from inventory.domain.stock import TicketStock
from ticketing_contracts.events.inventory import OfferEnd

OFFER_ID_NAMESPACE = UUID("6c2f0b54-52a4-4a8e-8f0c-3d3b0c7f9e21")


class EntryState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    LEFT = "left"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({EntryState.WAITING, EntryState.OFFERED})

# How an offer's end ends its entry.
ENDED_BY: dict[OfferEnd, EntryState] = {
    OfferEnd.ACCEPTED: EntryState.ACCEPTED,
    OfferEnd.DECLINED: EntryState.DECLINED,
    OfferEnd.EXPIRED: EntryState.EXPIRED,
    OfferEnd.LEFT: EntryState.LEFT,
    OfferEnd.CANCELLED: EntryState.CANCELLED,
}


def offer_id_for(entry_id: UUID) -> UUID:
    """An entry is offered tickets once, so its offer's id derives from it."""
    return uuid5(OFFER_ID_NAMESPACE, str(entry_id))


@dataclass
class WaitlistEntry:
    entry_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    owner_id: str
    quantity: int
    customer_name: str
    customer_email: str
    number: int
    joined_at: datetime
    state: EntryState = EntryState.WAITING
    offer_id: UUID | None = None
    offer_expires_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_waiting(self) -> bool:
        return self.state is EntryState.WAITING

    @property
    def has_open_offer(self) -> bool:
        return self.state is EntryState.OFFERED

    def offer_is_due(self, now: datetime) -> bool:
        return (
            self.state is EntryState.OFFERED
            and self.offer_expires_at is not None
            and self.offer_expires_at <= now
        )


@dataclass(frozen=True)
class OfferMade:
    entry: WaitlistEntry
    offer_id: UUID
    expires_at: datetime


@dataclass(frozen=True)
class OfferEnded:
    entry: WaitlistEntry
    offer_id: UUID
    outcome: OfferEnd


OfferFact = OfferMade | OfferEnded


def in_order(entries: Iterable[WaitlistEntry]) -> list[WaitlistEntry]:
    return sorted(entries, key=lambda entry: entry.number)


def waiting_in_order(entries: Iterable[WaitlistEntry], ticket_type_id: UUID) -> list[WaitlistEntry]:
    return in_order(
        entry
        for entry in entries
        if entry.ticket_type_id == ticket_type_id and entry.state is EntryState.WAITING
    )


def entries_to_offer(free: int, waiting: Sequence[WaitlistEntry]) -> list[WaitlistEntry]:
    """The entries `free` tickets are offered to: from the first waiting entry on, each
    whose whole quantity the tickets left still cover; the first one they do not cover
    stops the line (nobody behind it is served first)."""
    offered = []
    for entry in waiting:
        if entry.quantity > free:
            break
        offered.append(entry)
        free -= entry.quantity
    return offered


def position_of(entry: WaitlistEntry, entries: Iterable[WaitlistEntry]) -> int | None:
    """1 for the next waiting entry of its ticket type; None once it is not waiting."""
    if not entry.is_waiting:
        return None
    return 1 + sum(
        1
        for other in entries
        if other.ticket_type_id == entry.ticket_type_id
        and other.is_waiting
        and other.number < entry.number
    )


@dataclass(frozen=True)
class JoinRequest:
    event_id: UUID
    ticket_type_id: UUID
    owner_id: str
    quantity: int
    customer_name: str
    customer_email: str


class JoinRefusal(StrEnum):
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_TICKET_TYPE = "unknown_ticket_type"
    EVENT_NOT_ON_SALE = "event_not_on_sale"
    EVENT_CANCELLED = "event_cancelled"
    NOT_ON_SALE = "not_on_sale"
    SALES_CLOSED = "sales_closed"
    NOT_SOLD_OUT = "not_sold_out"
    PURCHASE_LIMIT_REACHED = "purchase_limit_reached"


@dataclass(frozen=True)
class JoinRefused:
    reason: JoinRefusal
    detail: SaleWindow | PurchaseLimitReached | None = None


@dataclass(frozen=True)
class TicketTypeChange:
    """booking-command's question: may the quantity go down to `quantity`, or may the
    ticket type go (`remove`)?"""

    event_id: UUID
    ticket_type_id: UUID
    quantity: int | None = None
    remove: bool = False


@dataclass(frozen=True)
class Taken:
    quantity: int
    sold: int
    held: int
    offered: int


ChangeRefusal = Literal["quantity_below_taken", "ticket_type_in_use"]


@dataclass(frozen=True)
class TicketTypeChangeAnswer:
    is_applied: bool
    reason: ChangeRefusal | None
    taken: Taken

    @classmethod
    def applied(cls, stock: TicketStock) -> TicketTypeChangeAnswer:
        return cls(True, None, _taken(stock))

    @classmethod
    def refused(cls, reason: ChangeRefusal, stock: TicketStock) -> TicketTypeChangeAnswer:
        return cls(False, reason, _taken(stock))


def _taken(stock: TicketStock) -> Taken:
    return Taken(stock.quantity, stock.sold, stock.reserved, stock.offered)
