"""When a ticket type is on sale, and how many tickets one account may hold or buy.

An event has sale terms, and each of its ticket types its own: a ticket type's window
bound overrides the event's (None: the event's applies), and both purchase limits apply,
the event's to the account's tickets of every type together. An account's tickets are those
of its bookings that hold or bought them (reserved or sold); a booking that ends otherwise
(released, expired, rejected, cancelled) no longer counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

AccountKey = tuple[UUID, str]
"""(event id, owner id): whose tickets of which event."""


@dataclass(frozen=True)
class SaleTerms:
    """An event's or a ticket type's own terms; each None: no bound, no limit (a ticket
    type's window bound: the event's)."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_tickets_per_account: int | None = None


NO_TERMS = SaleTerms()


@dataclass(frozen=True)
class SaleWindow:
    """When a ticket type is on sale: from `starts_at` (None: always was) until before
    `ends_at` (None: never ends)."""

    starts_at: datetime | None
    ends_at: datetime | None

    def is_open(self, at: datetime) -> bool:
        started = self.starts_at is None or self.starts_at <= at
        return started and (self.ends_at is None or at < self.ends_at)


def effective_window(event: SaleTerms, ticket_type: SaleTerms) -> SaleWindow:
    return SaleWindow(
        ticket_type.starts_at if ticket_type.starts_at is not None else event.starts_at,
        ticket_type.ends_at if ticket_type.ends_at is not None else event.ends_at,
    )


class LimitScope(StrEnum):
    EVENT = "event"
    TICKET_TYPE = "ticket_type"


@dataclass(frozen=True)
class PurchaseLimitReached:
    """The limit a booking would pass, and the account's tickets within it already."""

    scope: LimitScope
    max_tickets_per_account: int
    tickets_held_or_bought: int


def purchase_limit_reached(
    event: SaleTerms,
    ticket_type: SaleTerms,
    ticket_type_id: UUID,
    quantity: int,
    account_tickets: Mapping[UUID, int],
) -> PurchaseLimitReached | None:
    """Which limit `quantity` more tickets of the type would pass, the event's first;
    `account_tickets`: the account's tickets of the event per ticket type."""
    if (limit := event.max_tickets_per_account) is not None:
        held = sum(account_tickets.values())
        if held + quantity > limit:
            return PurchaseLimitReached(LimitScope.EVENT, limit, held)
    if (limit := ticket_type.max_tickets_per_account) is not None:
        held = account_tickets.get(ticket_type_id, 0)
        if held + quantity > limit:
            return PurchaseLimitReached(LimitScope.TICKET_TYPE, limit, held)
    return None
