"""The service's adapters for tests of the HTTP API: the in-memory event store and fakes."""

from __future__ import annotations

from booking_command.adapters.event_store import in_memory_environment
from booking_command.application.ports import InventoryHolds, PaymentProvider
from booking_command.bootstrap import AdaptersFactory, BookingCommandAdapters
from booking_command.settings import BookingCommandSettings

from .fake_payment_provider import FakePaymentProvider


def in_memory_adapters(
    inventory: InventoryHolds, payment_provider: PaymentProvider | None = None
) -> AdaptersFactory:
    """No broker and no relay; the provider is down unless one is given, so bookings stay
    PENDING with their payment due."""

    async def build(settings: BookingCommandSettings) -> BookingCommandAdapters:
        return BookingCommandAdapters(
            event_store=in_memory_environment(),
            payment_provider=payment_provider or FakePaymentProvider(down=True),
            inventory=inventory,
            kafka=None,
            relay_leadership=None,
            ping_event_store=False,
        )

    return build
