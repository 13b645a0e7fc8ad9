"""Booking handlers: a customer requests tickets and cancels their booking; and a look at
one booking."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from booking_command.application import commands
from booking_command.application.persistence import AggregateStore
from booking_command.application.ports import TicketsToHold
from booking_command.application.results import Change, IdempotencyClaim
from booking_command.domain.booking import Booking
from booking_command.domain.catalog_event import Event
from service_kit.errors import NotFoundError

# Namespace of booking ids derived from a caller's Idempotency-Key.
BOOKING_ID_NAMESPACE = UUID("0b6f1d5e-3c1a-4f43-9a3e-6d2b8c7e5a14")


def booking_id_for(claim: IdempotencyClaim | None) -> UUID | None:
    """The id of the booking a keyed request creates, the same on every retry, so inventory
    answers a retry with the hold it made for the first try; None: a new random id."""
    if claim is None:
        return None
    return uuid.uuid5(BOOKING_ID_NAMESPACE, f"{claim.scope}\n{claim.key}\n{claim.fingerprint}")


class EventsOnSale:
    """Events for pricing bookings: cached, refreshed by our writes and a short TTL."""

    def __init__(self, store: AggregateStore, *, ttl_seconds: float) -> None:
        self._store = store
        self._ttl_seconds = ttl_seconds
        self._cached: dict[UUID, tuple[Event, float]] = {}

    def get(self, event_id: UUID) -> Event:
        cached = self._cached.get(event_id)
        if cached is not None and time.monotonic() - cached[1] < self._ttl_seconds:
            return cached[0]
        show = self._store.load(event_id, Event, "event")
        self._cached[event_id] = (show, time.monotonic())
        return show

    def remember(self, aggregates: Iterable[Aggregate]) -> None:
        for aggregate in aggregates:
            if isinstance(aggregate, Event):
                self._cached[aggregate.id] = (aggregate, time.monotonic())


class Bookings:
    def __init__(
        self, store: AggregateStore, events_on_sale: EventsOnSale, *, hold_for: timedelta
    ) -> None:
        self._store = store
        self._events_on_sale = events_on_sale
        self.hold_for = hold_for

    def request_booking(self, command: commands.RequestBooking) -> Change[Booking]:
        """A new PENDING booking, to be stored once inventory holds its tickets."""
        show = self._events_on_sale.get(command.event_id)
        booking = Booking.request(
            booking_id=command.booking_id,
            show=show,
            ticket_type_id=command.ticket_type_id,
            quantity=command.quantity,
            customer_name=command.customer_name,
            customer_email=command.customer_email,
            owner_id=command.owner_id,
            now=self._store.clock(),
            hold_for=show.hold_for(self.hold_for),
            payment_token=command.payment_token,
        )
        hold = TicketsToHold(
            booking.id,
            booking.event_id,
            booking.ticket_type_id,
            booking.quantity,
            booking.owner_id,
            offer_id=command.offer_id,
        )
        return Change(booking, (booking,), hold=hold)

    def cancel_booking(self, command: commands.CancelBooking) -> Change[Booking]:
        booking = self.get_booking(
            command.booking_id, caller_id=command.caller_id, is_admin=command.is_admin
        )
        booking.cancel(cancelled_by=command.caller_id)
        return Change(booking, (booking,))

    def get_booking(self, booking_id: UUID, *, caller_id: str, is_admin: bool) -> Booking:
        """The booking, if the caller may see it; to anyone else it does not exist."""
        booking = self._store.load(booking_id, Booking, "booking")
        if not is_admin and booking.owner_id != caller_id:
            raise NotFoundError(f"booking {booking_id} not found")
        return booking
