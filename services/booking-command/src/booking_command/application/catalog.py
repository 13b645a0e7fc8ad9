"""Catalog handlers: venues, their events (shows) and the events' ticket types."""

from __future__ import annotations

from dataclasses import dataclass

from booking_command.application import commands
from booking_command.application.persistence import AggregateStore
from booking_command.application.results import Change
from booking_command.domain.catalog_event import Event, TicketType
from booking_command.domain.venue import Venue
from service_kit.errors import NotFoundError


@dataclass(frozen=True)
class TicketTypeAdded:
    event: Event
    ticket_type: TicketType


class Catalog:
    def __init__(self, store: AggregateStore) -> None:
        self._store = store

    def register_venue(self, command: commands.RegisterVenue) -> Change[Venue]:
        venue = Venue.register(
            name=command.name, capacity=command.capacity, address=command.address
        )
        return Change(venue, (venue,))

    def update_venue(self, command: commands.UpdateVenue) -> Change[Venue]:
        venue = self._store.load(command.venue_id, Venue, "venue")
        venue.update(name=command.name, capacity=command.capacity, address=command.address)
        return Change(venue, (venue,))

    def delete_venue(self, command: commands.DeleteVenue) -> Change[Venue]:
        venue = self._store.load(command.venue_id, Venue, "venue")
        venue.delete(now=self._store.clock())
        return Change(venue, (venue,))

    def schedule_event(self, command: commands.ScheduleEvent) -> Change[Event]:
        venue = self._store.load(command.venue_id, Venue, "venue")
        if venue.deleted:
            raise NotFoundError(f"venue {command.venue_id} not found")
        show = Event.schedule(
            venue_id=command.venue_id,
            venue_capacity=venue.capacity,
            name=command.name,
            description=command.description,
            starts_at=command.starts_at,
            ticket_types=command.ticket_types,
            now=self._store.clock(),
            sale=command.sale,
        )
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return Change(show, (show, venue))

    def change_event_details(self, command: commands.ChangeEventDetails) -> Change[Event]:
        show = self._store.load(command.event_id, Event, "event")
        show.change_details(name=command.name, description=command.description)
        return Change(show, (show,))

    def add_ticket_type(self, command: commands.AddTicketType) -> Change[TicketTypeAdded]:
        show = self._store.load(command.event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        added = show.add_ticket_type(command.ticket_type, venue_capacity=venue.capacity)
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return Change(TicketTypeAdded(show, added), (show, venue))

    def change_event_sale(self, command: commands.ChangeEventSale) -> Change[Event]:
        show = self._store.load(command.event_id, Event, "event")
        show.change_sale(command.sale)
        return Change(show, (show,))

    def change_ticket_type_sale(self, command: commands.ChangeTicketTypeSale) -> Change[Event]:
        show = self._store.load(command.event_id, Event, "event")
        show.change_ticket_type_sale(command.ticket_type_id, command.sale)
        return Change(show, (show,))

    def publish_event(self, command: commands.PublishEvent) -> Change[Event]:
        show = self._store.load(command.event_id, Event, "event")
        show.publish(now=self._store.clock())
        return Change(show, (show,))

    def reschedule_event(self, command: commands.RescheduleEvent) -> Change[Event]:
        show = self._store.load(command.event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        show.reschedule(starts_at=command.starts_at, now=self._store.clock())
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return Change(show, (show, venue))

    def cancel_event(self, command: commands.CancelEvent) -> Change[Event]:
        """The event stops selling; its bookings are ended afterwards, in batches, by the
        event-cancellation worker (the cancellation records its work in this transaction)."""
        show = self._store.load(command.event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        show.cancel(reason=command.reason, cancelled_by=command.cancelled_by)
        venue.remove_show(event_id=show.id)
        return Change(show, (show, venue))
