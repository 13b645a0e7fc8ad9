"""Catalog handlers: venues, their events (shows) and the events' ticket types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from booking_command.application import commands
from booking_command.application.persistence import AggregateStore
from booking_command.application.results import Change
from booking_command.domain.catalog_event import Event, TicketType, TicketTypeChange
from booking_command.domain.venue import Venue
from service_kit.errors import NotFoundError
from ticketing_contracts.waitlist import TicketTypeChangeQuestion

# Namespace of the ids of the questions put to inventory (one per version of an event).
TICKET_TYPE_CHANGE_NAMESPACE = UUID("9d3b8a61-2f4e-4c7a-8e15-7a0c5d2b6f93")


@dataclass(frozen=True)
class TicketTypeAdded:
    event: Event
    ticket_type: TicketType


@dataclass(frozen=True)
class TicketTypeEdited:
    event: Event
    change: TicketTypeChange


def inventory_question(show: Event, change: TicketTypeChange) -> TicketTypeChangeQuestion | None:
    """What inventory must agree to before the change is stored (None: nothing): a lower
    quantity, applied there at once so no hold takes the tickets meanwhile, or a removal.
    Its id names the event's version the change makes, so a retry of the same change asks
    the same question, and a change handled again after losing a race asks anew."""
    if not (change.lowered or change.removed):
        return None
    return TicketTypeChangeQuestion(
        change_id=uuid.uuid5(TICKET_TYPE_CHANGE_NAMESPACE, f"{show.id}:{show.version}"),
        event_id=show.id,
        ticket_type_id=change.ticket_type.ticket_type_id,
        quantity=change.ticket_type.quantity if change.lowered else None,
        remove=change.removed,
    )


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
        show.change_sale(
            command.sale,
            hold_minutes=command.hold_minutes,
            waitlist_offer_minutes=command.waitlist_offer_minutes,
        )
        return Change(show, (show,))

    def change_ticket_type_sale(self, command: commands.ChangeTicketTypeSale) -> Change[Event]:
        show = self._store.load(command.event_id, Event, "event")
        show.change_ticket_type_sale(command.ticket_type_id, command.sale)
        return Change(show, (show,))

    def change_ticket_type(self, command: commands.ChangeTicketType) -> Change[TicketTypeEdited]:
        show = self._store.load(command.event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        change = show.change_ticket_type(
            command.ticket_type_id,
            venue_capacity=venue.capacity,
            name=command.name,
            price=command.price,
            quantity=command.quantity,
            sales_closed=command.sales_closed,
        )
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return Change(
            TicketTypeEdited(show, change), (show, venue), question=inventory_question(show, change)
        )

    def remove_ticket_type(self, command: commands.RemoveTicketType) -> Change[TicketTypeEdited]:
        show = self._store.load(command.event_id, Event, "event")
        venue = self._store.load(show.venue_id, Venue, "venue")
        change = show.remove_ticket_type(command.ticket_type_id)
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return Change(
            TicketTypeEdited(show, change), (show, venue), question=inventory_question(show, change)
        )

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
