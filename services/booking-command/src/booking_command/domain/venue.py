"""A place where events happen; it knows its upcoming shows so it cannot be deleted under them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from booking_command.domain import rules
from booking_command.domain.correlated import Correlated
from service_kit.errors import ConflictError, InvalidInputError


class Venue(Aggregate):
    class Registered(Correlated, Aggregate.Created):
        name: str
        capacity: int
        address: str

    @event(Registered)
    def __init__(self, name: str, capacity: int, address: str) -> None:
        self.name = name
        self.capacity = capacity
        self.address = address
        self.deleted = False
        # Event id (str) -> start time and tickets on sale, for shows that are not cancelled.
        self.show_starts: dict[str, datetime] = {}
        self.show_tickets: dict[str, int] = {}

    @classmethod
    def register(cls, *, name: str, capacity: int, address: str) -> Venue:
        return cls(
            name=rules.title(name),
            capacity=rules.positive_count(capacity, "capacity"),
            address=rules.text(address, "address", max_length=rules.MAX_ADDRESS_LENGTH),
        )

    def update(self, *, name: str, capacity: int, address: str) -> None:
        self._ensure_not_deleted()
        capacity = rules.positive_count(capacity, "capacity")
        largest_show = max(self.show_tickets.values(), default=0)
        if capacity < largest_show:
            raise ConflictError(
                f"capacity {capacity} is below the {largest_show} tickets of a scheduled event",
                error_type="capacity_below_scheduled_tickets",
            )
        self._updated(
            name=rules.title(name),
            capacity=capacity,
            address=rules.text(address, "address", max_length=rules.MAX_ADDRESS_LENGTH),
        )

    class Updated(Correlated, Aggregate.Event):
        name: str
        capacity: int
        address: str

    @event(Updated)
    def _updated(self, name: str, capacity: int, address: str) -> None:
        self.name = name
        self.capacity = capacity
        self.address = address

    def delete(self, *, now: datetime) -> None:
        self._ensure_not_deleted()
        upcoming = [event_id for event_id, starts in self.show_starts.items() if starts > now]
        if upcoming:
            raise ConflictError(
                f"venue has {len(upcoming)} upcoming event(s); cancel them first",
                error_type="venue_has_upcoming_events",
            )
        self._deleted()

    class Deleted(Correlated, Aggregate.Event):
        """No facts beyond the aggregate's id."""

    @event(Deleted)
    def _deleted(self) -> None:
        self.deleted = True

    def schedule_show(self, *, event_id: UUID, starts_at: datetime, tickets: int) -> None:
        """Records (or updates) a show here; its tickets must fit the venue."""
        self._ensure_not_deleted()
        if tickets > self.capacity:
            raise InvalidInputError(
                f"ticket quantities add up to {tickets}, above the venue capacity {self.capacity}"
            )
        key = str(event_id)
        if self.show_starts.get(key) == starts_at and self.show_tickets.get(key) == tickets:
            return
        self._show_scheduled(event_id=event_id, starts_at=starts_at, tickets=tickets)

    class ShowScheduled(Correlated, Aggregate.Event):
        event_id: UUID
        starts_at: datetime
        tickets: int

    @event(ShowScheduled)
    def _show_scheduled(self, event_id: UUID, starts_at: datetime, tickets: int) -> None:
        self.show_starts[str(event_id)] = starts_at
        self.show_tickets[str(event_id)] = tickets

    def remove_show(self, *, event_id: UUID) -> None:
        if str(event_id) in self.show_starts:
            self._show_removed(event_id=event_id)

    class ShowRemoved(Correlated, Aggregate.Event):
        event_id: UUID

    @event(ShowRemoved)
    def _show_removed(self, event_id: UUID) -> None:
        self.show_starts.pop(str(event_id), None)
        self.show_tickets.pop(str(event_id), None)

    def _ensure_not_deleted(self) -> None:
        if self.deleted:
            raise ConflictError(f"venue {self.id} has been deleted", error_type="venue_deleted")
