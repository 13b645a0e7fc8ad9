"""The service's adapters for tests of the HTTP API: the in-memory event store and fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from booking_command.adapters.event_store import in_memory_environment
from booking_command.application.ports import InventoryHolds, PaymentProvider
from booking_command.bootstrap import AdaptersFactory, BookingCommandAdapters, build_app
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


@asynccontextmanager
async def internal_api_client(
    inventory: InventoryHolds, public_key: str, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of booking-command's internal API, served in process on in-memory adapters
    and trusting people's credentials signed with `public_key`."""
    app = build_app(
        BookingCommandSettings(
            environment="test",
            hold_expiry_interval_seconds=60,
            internal_token_public_key=public_key,
            payment_provider_secret_key="sk_test_Fz8Lq2Vw7Rb4Nc9Xt1Hy6Kd3Gm5Jp0Ta",
            **settings,
        ),
        in_memory_adapters(inventory),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
