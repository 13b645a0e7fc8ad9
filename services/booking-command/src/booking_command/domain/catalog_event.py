"""An event (a concert, match, show) at a venue, with the ticket types it sells."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from booking_command.domain import rules
from service_kit.errors import ConflictError, InvalidInputError

MAX_TICKET_TYPES = 20


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TicketTypeSpec:
    name: str
    price: Decimal
    currency: str
    quantity: int


@dataclass(frozen=True)
class TicketType:
    ticket_type_id: UUID
    name: str
    price: Decimal
    currency: str
    quantity: int

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TicketType:
        return cls(
            ticket_type_id=UUID(str(record["ticket_type_id"])),
            name=str(record["name"]),
            price=Decimal(str(record["price"])),
            currency=str(record["currency"]),
            quantity=int(record["quantity"]),
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "ticket_type_id": self.ticket_type_id,
            "name": self.name,
            "price": self.price,
            "currency": self.currency,
            "quantity": self.quantity,
        }


def _new_ticket_type(spec: TicketTypeSpec) -> TicketType:
    return TicketType(
        ticket_type_id=uuid.uuid4(),
        name=rules.title(spec.name, "ticket type name"),
        price=rules.price(spec.price),
        currency=rules.currency(spec.currency),
        quantity=rules.positive_count(spec.quantity, "quantity"),
    )


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


class Event(Aggregate):
    class Created(Aggregate.Created):
        venue_id: UUID
        name: str
        description: str
        starts_at: datetime
        ticket_types: list[dict[str, Any]]

    @event(Created)
    def __init__(
        self,
        venue_id: UUID,
        name: str,
        description: str,
        starts_at: datetime,
        ticket_types: list[dict[str, Any]],
    ) -> None:
        self.venue_id = venue_id
        self.name = name
        self.description = description
        self.starts_at = starts_at
        self.status = EventStatus.DRAFT.value
        self.ticket_type_records: dict[str, dict[str, Any]] = {
            str(record["ticket_type_id"]): record for record in ticket_types
        }

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
    ) -> Event:
        if not ticket_types:
            raise InvalidInputError("an event needs at least one ticket type")
        if len(ticket_types) > MAX_TICKET_TYPES:
            raise InvalidInputError(f"an event has at most {MAX_TICKET_TYPES} ticket types")
        created = [_new_ticket_type(spec) for spec in ticket_types]
        _ensure_unique_names(created)
        _ensure_fits(created, venue_capacity)
        return cls(
            venue_id=venue_id,
            name=rules.title(name),
            description=rules.text(
                description, "description", max_length=rules.MAX_DESCRIPTION_LENGTH, required=False
            ),
            starts_at=rules.in_future(starts_at, now),
            ticket_types=[ticket_type.to_record() for ticket_type in created],
        )

    @property
    def ticket_types(self) -> list[TicketType]:
        return [TicketType.from_record(record) for record in self.ticket_type_records.values()]

    def ticket_type(self, ticket_type_id: UUID) -> TicketType | None:
        record = self.ticket_type_records.get(str(ticket_type_id))
        return TicketType.from_record(record) if record is not None else None

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

    class DetailsChanged(Aggregate.Event):
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
        self._ticket_type_added(ticket_type=added.to_record())
        return added

    class TicketTypeAdded(Aggregate.Event):
        ticket_type: dict[str, Any]

    @event(TicketTypeAdded)
    def _ticket_type_added(self, ticket_type: dict[str, Any]) -> None:
        self.ticket_type_records[str(ticket_type["ticket_type_id"])] = ticket_type

    def publish(self, *, now: datetime) -> None:
        self._ensure_not_cancelled()
        if self.status == EventStatus.PUBLISHED:
            raise ConflictError("event is already published", error_type="already_published")
        if self.starts_at <= now:
            raise ConflictError("event has already started", error_type="event_in_past")
        self._published()

    class Published(Aggregate.Event):
        """No facts beyond the aggregate's id."""

    @event(Published)
    def _published(self) -> None:
        self.status = EventStatus.PUBLISHED.value

    def reschedule(self, *, starts_at: datetime, now: datetime) -> None:
        self._ensure_not_cancelled()
        self._rescheduled(starts_at=rules.in_future(starts_at, now))

    class Rescheduled(Aggregate.Event):
        starts_at: datetime

    @event(Rescheduled)
    def _rescheduled(self, starts_at: datetime) -> None:
        self.starts_at = starts_at

    class Cancelled(Aggregate.Event):
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
