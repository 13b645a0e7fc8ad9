"""JSON-ready answers about aggregates, as the internal API returns them."""

from __future__ import annotations

from typing import Any

from booking_command.domain.booking import Booking
from booking_command.domain.catalog_event import Event, TicketType
from booking_command.domain.venue import Venue


def venue_view(venue: Venue) -> dict[str, Any]:
    return {
        "name": venue.name,
        "capacity": venue.capacity,
        "address": venue.address,
        "deleted": venue.deleted,
    }


def ticket_type_view(ticket_type: TicketType) -> dict[str, Any]:
    return {
        "ticket_type_id": str(ticket_type.ticket_type_id),
        "name": ticket_type.name,
        "price": str(ticket_type.price),
        "currency": ticket_type.currency,
        "quantity": ticket_type.quantity,
    }


def event_view(show: Event) -> dict[str, Any]:
    return {
        "venue_id": str(show.venue_id),
        "name": show.name,
        "description": show.description,
        "starts_at": show.starts_at.isoformat(),
        "status": show.status,
        "ticket_types": [ticket_type_view(ticket_type) for ticket_type in show.ticket_types],
    }


def booking_view(booking: Booking) -> dict[str, Any]:
    return {
        "status": booking.status,
        "event_id": str(booking.event_id),
        "ticket_type_id": str(booking.ticket_type_id),
        "quantity": booking.quantity,
        "customer_name": booking.customer_name,
        "customer_email": booking.customer_email,
        "owner_id": booking.owner_id,
        "unit_price": str(booking.unit_price),
        "total_price": str(booking.total_price),
        "currency": booking.currency,
        "hold_expires_at": booking.hold_expires_at.isoformat(),
        "rejection_reason": booking.rejection_reason,
        "cancelled_by": booking.cancelled_by,
        "payment_status": booking.payment_status,
        "payment_reference": booking.payment_reference,
    }
