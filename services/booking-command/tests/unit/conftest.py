from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from booking_command.adapters.event_store import in_memory_environment
from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication
from booking_command.application.results import PendingWrite
from booking_command.domain.catalog_event import TicketTypeSpec

from .handling import prepare, store

HOLD = timedelta(seconds=120)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2030, 1, 1, 12, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class OnSale:
    venue_id: UUID
    event_id: UUID
    ticket_type_id: UUID


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> BookingCommandApplication:
    return BookingCommandApplication(
        in_memory_environment(), clock=clock, hold_for=HOLD, catalog_cache_ttl_seconds=0
    )


def put_event_on_sale(
    app: BookingCommandApplication, *, price: str = "49.50", publish: bool = True
) -> OnSale:
    [venue] = store(app, [commands.RegisterVenue(name="Hall", capacity=500, address="1 Road")])
    [show] = store(
        app,
        [
            commands.ScheduleEvent(
                venue_id=venue.id,
                name="Flash Sale Live",
                description="",
                starts_at=app.clock() + timedelta(days=30),
                ticket_types=[TicketTypeSpec("Stalls", Decimal(price), "EUR", 100)],
            )
        ],
    )
    if publish:
        store(app, [commands.PublishEvent(show.id)])
    ticket_type_id = UUID(show.body["ticket_types"][0]["ticket_type_id"])
    return OnSale(venue.id, show.id, ticket_type_id)


@pytest.fixture
def on_sale(app: BookingCommandApplication) -> OnSale:
    return put_event_on_sale(app)


def booking_write(
    app: BookingCommandApplication,
    on_sale: OnSale,
    owner: str = "user-1",
    *,
    quantity: int = 2,
    card: str = "tok_visa",
) -> PendingWrite:
    """A fan's booking request for the event on sale, handled, not yet committed."""
    return prepare(
        app,
        commands.RequestBooking(
            event_id=on_sale.event_id,
            ticket_type_id=on_sale.ticket_type_id,
            quantity=quantity,
            customer_name="Ada Lovelace",
            customer_email="ada@example.com",
            owner_id=owner,
            payment_token=card,
        ),
        status_code=202,
    )


def book(
    app: BookingCommandApplication,
    on_sale: OnSale,
    owner: str = "user-1",
    *,
    quantity: int = 2,
    card: str = "tok_visa",
) -> UUID:
    """A PENDING booking, committed: its id."""
    [result] = app.commit([booking_write(app, on_sale, owner, quantity=quantity, card=card)])
    return result.id


def reserve(app: BookingCommandApplication, booking_id: UUID) -> None:
    """Inventory held the booking's tickets (as the hold step records it): its payment
    falls due."""
    from booking_command.domain.booking import Booking

    booking = app.repository.get(booking_id)
    assert isinstance(booking, Booking)
    booking.tickets_reserved()
    app.store([booking])


def reserve_and_pay(app: BookingCommandApplication, booking_id: UUID) -> None:
    """Reserved, then the payment worker's record of a capture of the whole total."""
    from booking_command.domain.booking import Booking
    from booking_command.domain.payment import Captured

    reserve(app, booking_id)
    booking = app.repository.get(booking_id)
    assert isinstance(booking, Booking)
    app.payments.record([Captured(booking_id, "c", "pi_test", booking.amount_due, "eur")])
