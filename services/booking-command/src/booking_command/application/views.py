"""JSON-ready answers about aggregates, as the internal API returns them."""

from __future__ import annotations

from datetime import datetime
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


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_type_view(show: Event, ticket_type: TicketType) -> dict[str, Any]:
    """Its sale window as bookings are checked against it (its own bounds, else the
    event's), its own limit, and the bounds set on it (`sale_window_override`)."""
    starts_at, ends_at = ticket_type.sale.window_within(show.sale)
    return {
        "ticket_type_id": str(ticket_type.ticket_type_id),
        "name": ticket_type.name,
        "price": str(ticket_type.price),
        "currency": ticket_type.currency,
        "quantity": ticket_type.quantity,
        "sale_starts_at": _moment(starts_at),
        "sale_ends_at": _moment(ends_at),
        "max_tickets_per_account": ticket_type.sale.max_tickets_per_account,
        "sales_closed": ticket_type.sales_closed,
        "sale_window_override": {
            "sale_starts_at": _moment(ticket_type.sale.starts_at),
            "sale_ends_at": _moment(ticket_type.sale.ends_at),
        },
    }


def event_view(show: Event) -> dict[str, Any]:
    return {
        "venue_id": str(show.venue_id),
        "name": show.name,
        "description": show.description,
        "starts_at": show.starts_at.isoformat(),
        "status": show.status,
        "sale_starts_at": _moment(show.sale_starts_at),
        "sale_ends_at": _moment(show.sale_ends_at),
        "max_tickets_per_account": show.max_tickets_per_account,
        "hold_minutes": show.hold_minutes,
        "waitlist_offer_minutes": show.waitlist_offer_minutes,
        "ticket_types": [ticket_type_view(show, ticket_type) for ticket_type in show.ticket_types],
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
