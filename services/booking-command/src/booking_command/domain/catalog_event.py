"""An event (a concert, match, show) at a venue, with the ticket types it sells."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from booking_command.domain import rules
from booking_command.domain.correlated import Correlated
from service_kit.errors import ConflictError, InvalidInputError, NotFoundError

MAX_TICKET_TYPES = 20


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class SaleTerms:
    """When tickets are on sale and how many one account may hold or buy. An event's: its
    sale window (None: no bound) and its limit over all its ticket types; a ticket type's:
    each window bound overrides the event's (None: the event's), its limit applies beside
    the event's. Inventory decides bookings by them (its clock, its count per account)."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_tickets_per_account: int | None = None

    def validated(self, of: str = "the sale") -> SaleTerms:
        starts_at, ends_at = rules.sale_window(self.starts_at, self.ends_at, of=of)
        return SaleTerms(
            starts_at, ends_at, rules.max_tickets_per_account(self.max_tickets_per_account)
        )

    def window_within(self, event: SaleTerms) -> tuple[datetime | None, datetime | None]:
        """This ticket type's window: each of its bounds, else the event's."""
        return (
            self.starts_at if self.starts_at is not None else event.starts_at,
            self.ends_at if self.ends_at is not None else event.ends_at,
        )


NO_SALE_TERMS = SaleTerms()


@dataclass(frozen=True)
class TicketTypeSpec:
    name: str
    price: Decimal
    currency: str
    quantity: int
    sale: SaleTerms = NO_SALE_TERMS


@dataclass(frozen=True)
class TicketType:
    ticket_type_id: UUID
    name: str
    price: Decimal
    currency: str
    quantity: int
    sale: SaleTerms = NO_SALE_TERMS
    sales_closed: bool = False

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TicketType:
        # Records from before sale terms (or before sales could close) lack those keys.
        return cls(
            ticket_type_id=UUID(str(record["ticket_type_id"])),
            name=str(record["name"]),
            price=Decimal(str(record["price"])),
            currency=str(record["currency"]),
            quantity=int(record["quantity"]),
            sale=SaleTerms(
                record.get("sale_starts_at"),
                record.get("sale_ends_at"),
                record.get("max_tickets_per_account"),
            ),
            sales_closed=bool(record.get("sales_closed", False)),
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "ticket_type_id": self.ticket_type_id,
            "name": self.name,
            "price": self.price,
            "currency": self.currency,
            "quantity": self.quantity,
            **_sale_record(self.sale),
            "sales_closed": self.sales_closed,
        }


def _sale_record(terms: SaleTerms) -> dict[str, Any]:
    return {
        "sale_starts_at": terms.starts_at,
        "sale_ends_at": terms.ends_at,
        "max_tickets_per_account": terms.max_tickets_per_account,
    }


def _new_ticket_type(spec: TicketTypeSpec) -> TicketType:
    name = rules.title(spec.name, "ticket type name")
    return TicketType(
        ticket_type_id=uuid.uuid4(),
        name=name,
        price=rules.price(spec.price),
        currency=rules.currency(spec.currency),
        quantity=rules.positive_count(spec.quantity, "quantity"),
        sale=spec.sale.validated(of=f"the sale of ticket type {name!r}"),
    )


def _ensure_windows_open(event: SaleTerms, ticket_types: Sequence[TicketType]) -> None:
    """Each ticket type's window, its own bounds else the event's, ends after it starts."""
    for ticket_type in ticket_types:
        starts_at, ends_at = ticket_type.sale.window_within(event)
        rules.sale_window(starts_at, ends_at, of=f"the sale of ticket type {ticket_type.name!r}")


def _ensure_fits(ticket_types: Sequence[TicketType], venue_capacity: int) -> None:
    total = sum(ticket_type.quantity for ticket_type in ticket_types)
    if total > venue_capacity:
        raise InvalidInputError(
            f"ticket quantities add up to {total}, above the venue capacity {venue_capacity}",
        )


def _ensure_unique_names(ticket_types: Sequence[TicketType]) -> None:
    names = [ticket_type.name.casefold() for ticket_type in ticket_types]
    if len(names) != len(set(names)):
        raise InvalidInputError("ticket type names must be unique within an event")


@dataclass(frozen=True)
class TicketTypeChange:
    """A ticket type as an organiser's edit leaves it, and what inventory must agree to
    before the edit is stored: a lower quantity (`lowered`) or the type's removal."""

    ticket_type: TicketType
    lowered: bool = False
    removed: bool = False


class Event(Aggregate):
    """Version 2 of its state (snapshots) added the event's sale terms (None before);
    version 3 its hold and waitlist offer windows (None: the services' defaults)."""

    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["sale_starts_at"] = None
        state["sale_ends_at"] = None
        state["max_tickets_per_account"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["hold_minutes"] = None
        state["waitlist_offer_minutes"] = None

    class Created(Correlated, Aggregate.Created):
        """Version 2 added the event's sale terms; version 1 had none (None). Its ticket
        type records carry their own from then on (a record without them has none)."""

        class_version = 2

        venue_id: UUID
        name: str
        description: str
        starts_at: datetime
        ticket_types: list[dict[str, Any]]
        sale_starts_at: datetime | None
        sale_ends_at: datetime | None
        max_tickets_per_account: int | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sale_starts_at"] = None
            state["sale_ends_at"] = None
            state["max_tickets_per_account"] = None

    @event(Created)
    def __init__(
        self,
        venue_id: UUID,
        name: str,
        description: str,
        starts_at: datetime,
        ticket_types: list[dict[str, Any]],
        sale_starts_at: datetime | None,
        sale_ends_at: datetime | None,
        max_tickets_per_account: int | None,
    ) -> None:
        self.venue_id = venue_id
        self.name = name
        self.description = description
        self.starts_at = starts_at
        self.status = EventStatus.DRAFT.value
        self.ticket_type_records: dict[str, dict[str, Any]] = {
            str(record["ticket_type_id"]): record for record in ticket_types
        }
        self.sale_starts_at = sale_starts_at
        self.sale_ends_at = sale_ends_at
        self.max_tickets_per_account = max_tickets_per_account
        self.hold_minutes: int | None = None
        self.waitlist_offer_minutes: int | None = None

    @classmethod
    def schedule(
        cls,
        *,
        venue_id: UUID,
        venue_capacity: int,
        name: str,
        description: str,
        starts_at: datetime,
        ticket_types: Sequence[TicketTypeSpec],
        now: datetime,
        sale: SaleTerms = NO_SALE_TERMS,
    ) -> Event:
        if not ticket_types:
            raise InvalidInputError("an event needs at least one ticket type")
        if len(ticket_types) > MAX_TICKET_TYPES:
            raise InvalidInputError(f"an event has at most {MAX_TICKET_TYPES} ticket types")
        created = [_new_ticket_type(spec) for spec in ticket_types]
        _ensure_unique_names(created)
        _ensure_fits(created, venue_capacity)
        sale = sale.validated()
        _ensure_windows_open(sale, created)
        return cls(
            venue_id=venue_id,
            name=rules.title(name),
            description=rules.text(
                description, "description", max_length=rules.MAX_DESCRIPTION_LENGTH, required=False
            ),
            starts_at=rules.in_future(starts_at, now),
            ticket_types=[ticket_type.to_record() for ticket_type in created],
            sale_starts_at=sale.starts_at,
            sale_ends_at=sale.ends_at,
            max_tickets_per_account=sale.max_tickets_per_account,
        )

    @property
    def sale(self) -> SaleTerms:
        return SaleTerms(self.sale_starts_at, self.sale_ends_at, self.max_tickets_per_account)

    @property
    def ticket_types(self) -> list[TicketType]:
        return [TicketType.from_record(record) for record in self.ticket_type_records.values()]

    def ticket_type(self, ticket_type_id: UUID) -> TicketType | None:
        record = self.ticket_type_records.get(str(ticket_type_id))
        return TicketType.from_record(record) if record is not None else None

    def hold_for(self, default: timedelta) -> timedelta:
        """How long a booking's tickets are held: the event's window, else the default."""
        return timedelta(minutes=self.hold_minutes) if self.hold_minutes else default

    @property
    def total_tickets(self) -> int:
        return sum(int(record["quantity"]) for record in self.ticket_type_records.values())

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED

    def is_on_sale(self, now: datetime) -> bool:
        return self.status == EventStatus.PUBLISHED and self.starts_at > now

    def change_details(self, *, name: str, description: str) -> None:
        self._ensure_not_cancelled()
        self._details_changed(
            name=rules.title(name),
            description=rules.text(
                description, "description", max_length=rules.MAX_DESCRIPTION_LENGTH, required=False
            ),
        )

    class DetailsChanged(Correlated, Aggregate.Event):
        name: str
        description: str

    @event(DetailsChanged)
    def _details_changed(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    def add_ticket_type(self, spec: TicketTypeSpec, *, venue_capacity: int) -> TicketType:
        self._ensure_not_cancelled()
        if len(self.ticket_type_records) >= MAX_TICKET_TYPES:
            raise ConflictError(f"an event has at most {MAX_TICKET_TYPES} ticket types")
        added = _new_ticket_type(spec)
        existing = self.ticket_types
        if added.name.casefold() in {ticket_type.name.casefold() for ticket_type in existing}:
            raise ConflictError(
                f"ticket type {added.name!r} already exists", error_type="duplicate_ticket_type"
            )
        _ensure_fits([*existing, added], venue_capacity)
        _ensure_windows_open(self.sale, [added])
        self._ticket_type_added(ticket_type=added.to_record())
        return added

    class TicketTypeAdded(Correlated, Aggregate.Event):
        ticket_type: dict[str, Any]

    @event(TicketTypeAdded)
    def _ticket_type_added(self, ticket_type: dict[str, Any]) -> None:
        self.ticket_type_records[str(ticket_type["ticket_type_id"])] = ticket_type

    def change_sale(
        self,
        terms: SaleTerms,
        *,
        hold_minutes: int | None = None,
        waitlist_offer_minutes: int | None = None,
    ) -> None:
        """Replaces the event's sale terms (window, limit, hold and offer windows; None:
        no bound, no limit, the services' default windows); every ticket type's window,
        its own bounds else these, must still end after it starts."""
        self._ensure_not_cancelled()
        terms = terms.validated()
        _ensure_windows_open(terms, self.ticket_types)
        self._sale_changed(
            **_sale_record(terms),
            hold_minutes=rules.minutes(hold_minutes, "hold_minutes"),
            waitlist_offer_minutes=rules.minutes(waitlist_offer_minutes, "waitlist_offer_minutes"),
        )

    class SaleChanged(Correlated, Aggregate.Event):
        """Version 2 added the hold and waitlist offer windows; version 1 had none (None:
        the services' defaults)."""

        class_version = 2

        sale_starts_at: datetime | None
        sale_ends_at: datetime | None
        max_tickets_per_account: int | None
        hold_minutes: int | None
        waitlist_offer_minutes: int | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["hold_minutes"] = None
            state["waitlist_offer_minutes"] = None

    @event(SaleChanged)
    def _sale_changed(
        self,
        sale_starts_at: datetime | None,
        sale_ends_at: datetime | None,
        max_tickets_per_account: int | None,
        hold_minutes: int | None,
        waitlist_offer_minutes: int | None,
    ) -> None:
        self.sale_starts_at = sale_starts_at
        self.sale_ends_at = sale_ends_at
        self.max_tickets_per_account = max_tickets_per_account
        self.hold_minutes = hold_minutes
        self.waitlist_offer_minutes = waitlist_offer_minutes

    def change_ticket_type_sale(self, ticket_type_id: UUID, terms: SaleTerms) -> TicketType:
        """Replaces a ticket type's own sale terms (None: the event's window bound)."""
        self._ensure_not_cancelled()
        ticket_type = self._existing_ticket_type(ticket_type_id)
        terms = terms.validated(of=f"the sale of ticket type {ticket_type.name!r}")
        changed = replace(ticket_type, sale=terms)
        _ensure_windows_open(self.sale, [changed])
        self._ticket_type_sale_changed(ticket_type_id=ticket_type_id, **_sale_record(terms))
        return changed

    class TicketTypeSaleChanged(Correlated, Aggregate.Event):
        ticket_type_id: UUID
        sale_starts_at: datetime | None
        sale_ends_at: datetime | None
        max_tickets_per_account: int | None

    @event(TicketTypeSaleChanged)
    def _ticket_type_sale_changed(
        self,
        ticket_type_id: UUID,
        sale_starts_at: datetime | None,
        sale_ends_at: datetime | None,
        max_tickets_per_account: int | None,
    ) -> None:
        record = self.ticket_type_records[str(ticket_type_id)]
        self.ticket_type_records[str(ticket_type_id)] = {
            **record,
            "sale_starts_at": sale_starts_at,
            "sale_ends_at": sale_ends_at,
            "max_tickets_per_account": max_tickets_per_account,
        }

    def change_ticket_type(
        self,
        ticket_type_id: UUID,
        *,
        venue_capacity: int,
        name: str | None = None,
        price: Decimal | None = None,
        quantity: int | None = None,
        sales_closed: bool | None = None,
    ) -> TicketTypeChange:
        """Renames it, reprices it (bookings made before keep their price), changes its
        quantity (all quantities together within the venue) or closes or reopens its sales;
        what is not given stays."""
        self._ensure_not_cancelled()
        current = self._existing_ticket_type(ticket_type_id)
        if name is None and price is None and quantity is None and sales_closed is None:
            raise InvalidInputError("give at least one of name, price, quantity and sales_closed")
        changed = replace(
            current,
            name=rules.title(name, "ticket type name") if name is not None else current.name,
            price=rules.price(price) if price is not None else current.price,
            quantity=(
                rules.positive_count(quantity, "quantity")
                if quantity is not None
                else current.quantity
            ),
            sales_closed=sales_closed if sales_closed is not None else current.sales_closed,
        )
        others = [other for other in self.ticket_types if other.ticket_type_id != ticket_type_id]
        if changed.name.casefold() in {other.name.casefold() for other in others}:
            raise ConflictError(
                f"ticket type {changed.name!r} already exists", error_type="duplicate_ticket_type"
            )
        _ensure_fits([*others, changed], venue_capacity)
        self._ticket_type_changed(
            ticket_type_id=ticket_type_id,
            name=changed.name,
            price=changed.price,
            currency=changed.currency,
            quantity=changed.quantity,
            sales_closed=changed.sales_closed,
        )
        return TicketTypeChange(changed, lowered=changed.quantity < current.quantity)

    class TicketTypeChanged(Correlated, Aggregate.Event):
        """The ticket type's editable state as it now is (its currency does not change)."""

        ticket_type_id: UUID
        name: str
        price: Decimal
        currency: str
        quantity: int
        sales_closed: bool

    @event(TicketTypeChanged)
    def _ticket_type_changed(
        self,
        ticket_type_id: UUID,
        name: str,
        price: Decimal,
        currency: str,
        quantity: int,
        sales_closed: bool,
    ) -> None:
        record = self.ticket_type_records[str(ticket_type_id)]
        self.ticket_type_records[str(ticket_type_id)] = {
            **record,
            "name": name,
            "price": price,
            "quantity": quantity,
            "sales_closed": sales_closed,
        }

    def remove_ticket_type(self, ticket_type_id: UUID) -> TicketTypeChange:
        """Takes it off the event (inventory agrees first: nothing sold, held or offered);
        an event keeps at least one ticket type."""
        self._ensure_not_cancelled()
        removed = self._existing_ticket_type(ticket_type_id)
        if len(self.ticket_type_records) == 1:
            raise ConflictError(
                "an event keeps at least one ticket type; cancel the event instead",
                error_type="last_ticket_type",
            )
        self._ticket_type_removed(ticket_type_id=ticket_type_id)
        return TicketTypeChange(removed, removed=True)

    class TicketTypeRemoved(Correlated, Aggregate.Event):
        ticket_type_id: UUID

    @event(TicketTypeRemoved)
    def _ticket_type_removed(self, ticket_type_id: UUID) -> None:
        del self.ticket_type_records[str(ticket_type_id)]

    def _existing_ticket_type(self, ticket_type_id: UUID) -> TicketType:
        ticket_type = self.ticket_type(ticket_type_id)
        if ticket_type is None:
            raise NotFoundError(f"event {self.id} has no ticket type {ticket_type_id}")
        return ticket_type

    def publish(self, *, now: datetime) -> None:
        self._ensure_not_cancelled()
        if self.status == EventStatus.PUBLISHED:
            raise ConflictError("event is already published", error_type="already_published")
        if self.starts_at <= now:
            raise ConflictError("event has already started", error_type="event_in_past")
        self._published()

    class Published(Correlated, Aggregate.Event):
        """No facts beyond the aggregate's id."""

    @event(Published)
    def _published(self) -> None:
        self.status = EventStatus.PUBLISHED.value

    def reschedule(self, *, starts_at: datetime, now: datetime) -> None:
        self._ensure_not_cancelled()
        self._rescheduled(starts_at=rules.in_future(starts_at, now))

    class Rescheduled(Correlated, Aggregate.Event):
        starts_at: datetime

    @event(Rescheduled)
    def _rescheduled(self, starts_at: datetime) -> None:
        self.starts_at = starts_at

    class Cancelled(Correlated, Aggregate.Event):
        """Version 2 added `cancelled_by` (the admin); version 1 named nobody ("")."""

        class_version = 2

        reason: str
        cancelled_by: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["cancelled_by"] = ""

    def cancel(self, *, reason: str, cancelled_by: str = "") -> None:
        """Stops selling; every booking of the event ends after it (see Booking)."""
        self._ensure_not_cancelled()
        self._cancelled(
            reason=rules.text(
                reason, "reason", max_length=rules.MAX_DESCRIPTION_LENGTH, required=False
            ),
            cancelled_by=cancelled_by,
        )

    @event(Cancelled)
    def _cancelled(self, reason: str, cancelled_by: str) -> None:
        self.status = EventStatus.CANCELLED.value

    def _ensure_not_cancelled(self) -> None:
        if self.is_cancelled:
            raise ConflictError(f"event {self.id} is cancelled", error_type="event_cancelled")
