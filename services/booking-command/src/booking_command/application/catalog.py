"""Catalog use cases: venues, their events (shows) and the events' ticket types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from booking_command.application.persistence import AggregateStore
from booking_command.application.results import PendingWrite, pending_write
from booking_command.application.views import event_view, ticket_type_view, venue_view
from booking_command.domain.catalog_event import Event, TicketTypeSpec
from booking_command.domain.venue import Venue
from service_kit.errors import NotFoundError


class Catalog:
    def __init__(self, store: AggregateStore) -> None:
        self._store = store

    def register_venue(self, *, name: str, capacity: int, address: str) -> PendingWrite:
        venue = Venue.register(name=name, capacity=capacity, address=address)
        return pending_write(201, venue_view(venue), venue)

    def update_venue(
        self, venue_id: UUID, *, name: str, capacity: int, address: str
    ) -> PendingWrite:
        venue = self._store.load(venue_id, Venue, "venue")
        venue.update(name=name, capacity=capacity, address=address)
        return pending_write(200, venue_view(venue), venue)

    def delete_venue(self, venue_id: UUID) -> PendingWrite:
        venue = self._store.load(venue_id, Venue, "venue")
        venue.delete(now=self._store.clock())
        return pending_write(200, venue_view(venue), venue)

    def schedule_event(
        self,
        *,
        venue_id: UUID,
        name: str,
        description: str,
        starts_at: datetime,
        ticket_types: Sequence[TicketTypeSpec],
    ) -> PendingWrite:
        venue = self._store.load(venue_id, Venue, "venue")
        if venue.deleted:
            raise NotFoundError(f"venue {venue_id} not found")
        show = Event.schedule(
            venue_id=venue_id,
            venue_capacity=venue.capacity,
            name=name,
            description=description,
            starts_at=starts_at,
            ticket_types=ticket_types,
            now=self._store.clock(),
        )
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return pending_write(201, event_view(show), show, venue)

    def change_event_details(self, event_id: UUID, *, name: str, description: str) -> PendingWrite:
        show = self._store.load(event_id, Event, "event")
        show.change_details(name=name, description=description)
        return pending_write(200, event_view(show), show)

    def add_ticket_type(self, event_id: UUID, spec: TicketTypeSpec) -> PendingWrite:
        show = self._store.load(event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        added = show.add_ticket_type(spec, venue_capacity=venue.capacity)
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        body = {**event_view(show), "ticket_type": ticket_type_view(added)}
        return pending_write(201, body, show, venue)

    def publish_event(self, event_id: UUID) -> PendingWrite:
        show = self._store.load(event_id, Event, "event")
        show.publish(now=self._store.clock())
        return pending_write(200, event_view(show), show)

    def reschedule_event(self, event_id: UUID, *, starts_at: datetime) -> PendingWrite:
        show = self._store.load(event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        show.reschedule(starts_at=starts_at, now=self._store.clock())
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return pending_write(200, event_view(show), show, venue)

    def cancel_event(self, event_id: UUID, *, reason: str, cancelled_by: str = "") -> PendingWrite:
        """The event stops selling; its bookings are ended afterwards, in batches, by the
        event-cancellation worker (the cancellation records its work in this transaction)."""
        show = self._store.load(event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        show.cancel(reason=reason, cancelled_by=cancelled_by)
        venue.remove_show(event_id=show.id)
        return pending_write(200, event_view(show), show, venue)
