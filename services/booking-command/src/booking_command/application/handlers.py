"""One handler per command, bound to the application's event store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication
from booking_command.application.results import Change

Handler = Callable[[Any], Change[Any]]


def command_handlers(app: BookingCommandApplication) -> Mapping[type[commands.Command], Handler]:
    catalog, bookings = app.catalog, app.bookings
    return {
        commands.RegisterVenue: catalog.register_venue,
        commands.UpdateVenue: catalog.update_venue,
        commands.DeleteVenue: catalog.delete_venue,
        commands.ScheduleEvent: catalog.schedule_event,
        commands.ChangeEventDetails: catalog.change_event_details,
        commands.AddTicketType: catalog.add_ticket_type,
        commands.ChangeEventSale: catalog.change_event_sale,
        commands.ChangeTicketTypeSale: catalog.change_ticket_type_sale,
        commands.ChangeTicketType: catalog.change_ticket_type,
        commands.RemoveTicketType: catalog.remove_ticket_type,
        commands.PublishEvent: catalog.publish_event,
        commands.RescheduleEvent: catalog.reschedule_event,
        commands.CancelEvent: catalog.cancel_event,
        commands.RequestBooking: bookings.request_booking,
        commands.CancelBooking: bookings.cancel_booking,
    }
