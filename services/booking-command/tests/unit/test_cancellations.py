"""Cancellations that refund: a fan's or an admin's, and an event's cascade over its
bookings, against the in-memory event store, the payment worker and a fake provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from eventsourcing.persistence import StoredEvent

from booking_command.adapters.event_store import in_memory_environment
from booking_command.adapters.public_events import to_public_event
from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication
from booking_command.application.event_cancellations import EventCancellationWorker
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.payment_worker import PaymentWorker, PaymentWorkerOptions
from booking_command.domain.booking import Booking
from booking_command.domain.catalog_event import Event
from ticketing_contracts.events import BookingCancelled, BookingRejected, PaymentRefunded

from .conftest import HOLD, Clock, OnSale, book, put_event_on_sale, reserve
from .fake_payment_provider import FakePaymentProvider
from .handling import store

GRACE = timedelta(seconds=10)


@dataclass
class Platform:
    app: BookingCommandApplication
    provider: FakePaymentProvider
    payments: PaymentWorker
    cascade: EventCancellationWorker
    clock: Clock

    def request(self, on_sale: OnSale, quantity: int = 2) -> UUID:
        return book(self.app, on_sale, "fan-1", quantity=quantity)

    async def confirmed(self, on_sale: OnSale, quantity: int = 2) -> UUID:
        booking_id = self.request(on_sale, quantity)
        reserve(self.app, booking_id)
        while await self.payments.run_once():
            pass
        assert self.booking(booking_id).status == "CONFIRMED"
        return booking_id

    def booking(self, booking_id: UUID) -> Booking:
        booking = self.app.repository.get(booking_id)
        assert isinstance(booking, Booking)
        return booking

    def history(self, booking_id: UUID) -> list[str]:
        return [type(event).__name__ for event in self.app.events.get(booking_id)]

    def stored(self, booking_id: UUID, name: str) -> object:
        [found] = [e for e in self.app.events.get(booking_id) if type(e).__name__ == name]
        return found

    def cancel_event(self, on_sale: OnSale) -> None:
        store(
            self.app, [commands.CancelEvent(on_sale.event_id, reason="storm", cancelled_by="adm-1")]
        )

    async def settle_everything(self) -> None:
        """Runs the cascade to its end (past the grace period) and every refund due."""
        while await self.cascade.run_once():
            pass
        self.clock.advance(GRACE.total_seconds())
        while await self.cascade.run_once():
            pass
        for _ in range(10):
            while await self.payments.run_once():
                pass
            if self.app.booking_recorder.due_payment_count() == 0:
                return
            self.clock.advance(self.payments.options.recheck_after_seconds)

    def refunds_of(self, booking_id: UUID) -> int:
        return sum(1 for key in self.provider.refunds if key == f"booking-{booking_id}-refund")


@pytest_asyncio.fixture
async def platform(clock: Clock) -> AsyncIterator[Platform]:
    app = BookingCommandApplication(
        in_memory_environment(),
        clock=clock,
        hold_for=HOLD,
        catalog_cache_ttl_seconds=0,
        event_cancellation_batch_size=2,
        event_cancellation_grace=GRACE,
    )
    executor = EventStoreExecutor(4)
    provider = FakePaymentProvider()
    payments = PaymentWorker(app.payments, provider, executor, PaymentWorkerOptions())
    cascade = EventCancellationWorker(app.event_cancellations, executor)
    yield Platform(app, provider, payments, cascade, clock)
    executor.shutdown()


@pytest.fixture
def show(platform: Platform) -> OnSale:
    return put_event_on_sale(platform.app)


async def test_a_cancelled_booking_is_refunded_its_total_once(
    platform: Platform, show: OnSale
) -> None:
    booking_id = await platform.confirmed(show, quantity=3)
    [result] = store(
        platform.app, [commands.CancelBooking(booking_id, caller_id="fan-1", is_admin=False)]
    )
    assert (result.body["status"], result.body["payment_status"]) == ("CANCELLED", "captured")
    assert platform.app.booking_recorder.due_payment_count() == 1, "the refund is due, durably"
    await platform.payments.run_once()
    booking = platform.booking(booking_id)
    assert (booking.status, booking.payment_status) == ("CANCELLED", "refunded")
    assert [refund.amount for refund in platform.provider.refunds.values()] == [14850]
    assert platform.provider.charged() == 0
    assert platform.history(booking_id)[-3:] == ["Cancelled", "RefundDue", "PaymentRefunded"]
    refunded = to_public_event(platform.stored(booking_id, "PaymentRefunded"))
    assert isinstance(refunded, PaymentRefunded)
    assert refunded.reason == "booking_cancelled"
    cancelled = to_public_event(platform.stored(booking_id, "Cancelled"))
    assert isinstance(cancelled, BookingCancelled)
    assert (cancelled.cancelled_by, cancelled.reason) == ("fan-1", None)
    assert platform.app.booking_recorder.due_payment_count() == 0
    assert await platform.payments.run_once() is False
    assert platform.provider.calls.count("refund") == 1


async def test_a_refund_stays_due_while_the_provider_is_down(
    platform: Platform, show: OnSale
) -> None:
    booking_id = await platform.confirmed(show)
    store(platform.app, [commands.CancelBooking(booking_id, caller_id="admin", is_admin=True)])
    platform.provider.down = True
    await platform.payments.run_once()
    assert platform.booking(booking_id).payment_status == "captured"
    platform.provider.down = False
    platform.clock.advance(60)
    await platform.payments.run_once()
    assert platform.booking(booking_id).payment_status == "refunded"
    assert platform.refunds_of(booking_id) == 1


async def test_cancelling_an_event_ends_every_booking_of_it_and_refunds_each_capture_once(
    platform: Platform, show: OnSale
) -> None:
    expired = platform.request(show)
    platform.clock.advance(HOLD.total_seconds())
    platform.app.hold_expiry.expire_due_holds()
    confirmed = [await platform.confirmed(show) for _ in range(3)]
    other_show = put_event_on_sale(platform.app)
    elsewhere = await platform.confirmed(other_show)
    waiting_for_inventory = platform.request(show)
    being_charged = platform.request(show)
    reserve(platform.app, being_charged)

    platform.cancel_event(show)
    assert platform.app.event_cancellations.in_progress() == 1
    await platform.settle_everything()

    for booking_id in confirmed:
        booking = platform.booking(booking_id)
        assert (booking.status, booking.cancellation_reason, booking.cancelled_by) == (
            "CANCELLED",
            "event_cancelled",
            "adm-1",
        )
        assert booking.payment_status == "refunded"
        assert platform.refunds_of(booking_id) == 1
        refunded = to_public_event(platform.stored(booking_id, "PaymentRefunded"))
        assert isinstance(refunded, PaymentRefunded)
        assert refunded.reason == "event_cancelled"
        public = to_public_event(platform.stored(booking_id, "Cancelled"))
        assert isinstance(public, BookingCancelled)
        assert public.reason == "event_cancelled"
    for booking_id in (waiting_for_inventory, being_charged):
        booking = platform.booking(booking_id)
        assert (booking.status, booking.rejection_reason) == ("REJECTED", "event_cancelled")
        public = to_public_event(platform.stored(booking_id, "Rejected"))
        assert isinstance(public, BookingRejected)
        assert public.reason == "event_cancelled"
    assert platform.booking(expired).status == "EXPIRED"
    assert platform.booking(elsewhere).status == "CONFIRMED"
    assert platform.provider.calls.count("refund") == 3
    assert platform.provider.charged() == platform.booking(elsewhere).amount_due
    assert platform.app.event_cancellations.in_progress() == 0
    assert platform.app.booking_recorder.due_payment_count() == 0
    assert platform.app.booking_recorder.pending_hold_count() == 0


async def test_a_charge_in_flight_when_the_event_is_cancelled_is_refunded_not_confirmed(
    platform: Platform, show: OnSale
) -> None:
    booking_id = platform.request(show)
    reserve(platform.app, booking_id)

    async def event_cancelled_meanwhile() -> None:
        platform.cancel_event(show)
        await platform.cascade.run_once()

    platform.provider.before_capture_answer = event_cancelled_meanwhile
    await platform.payments.run_once()
    platform.provider.before_capture_answer = None
    await platform.settle_everything()
    booking = platform.booking(booking_id)
    assert (booking.status, booking.rejection_reason, booking.payment_status) == (
        "REJECTED",
        "event_cancelled",
        "refunded",
    )
    assert len(platform.provider.captures) == 1
    assert platform.provider.charged() == 0
    assert platform.refunds_of(booking_id) == 1


async def test_a_restart_mid_cascade_goes_on_where_it_stopped_without_ending_twice(
    platform: Platform, show: OnSale
) -> None:
    bookings = [await platform.confirmed(show) for _ in range(5)]
    platform.cancel_event(show)
    assert await platform.cascade.run_once() is True
    ended = [b for b in bookings if platform.booking(b).status == "CANCELLED"]
    assert len(ended) == 2, "one batch of two"
    # A replica claims the next batch and dies before storing it; its lease runs out.
    recorder = platform.app.booking_recorder
    now = platform.clock()
    assert recorder.claim_event_cancellation(now, now + timedelta(seconds=60)) is not None
    assert await platform.cascade.run_once() is False, "leased to the dead replica"
    platform.clock.advance(60)
    await platform.settle_everything()
    for booking_id in bookings:
        assert platform.history(booking_id).count("Cancelled") == 1
        assert platform.refunds_of(booking_id) == 1
    assert platform.app.event_cancellations.in_progress() == 0


async def test_a_booking_taken_on_a_stale_view_of_the_event_is_ended_too(
    platform: Platform, show: OnSale
) -> None:
    stale = platform.app.repository.get(show.event_id)
    assert isinstance(stale, Event)
    platform.cancel_event(show)
    while await platform.cascade.run_once():
        pass
    late = Booking.request(
        show=stale,
        ticket_type_id=show.ticket_type_id,
        quantity=1,
        customer_name="Late Replica",
        customer_email="late@example.com",
        owner_id="fan-2",
        now=platform.clock(),
        hold_for=HOLD,
        payment_token="tok_visa",
    )
    platform.app.store([late])
    assert platform.app.event_cancellations.in_progress() == 1, "kept for the grace period"
    await platform.settle_everything()
    assert (platform.booking(late.id).status, platform.booking(late.id).rejection_reason) == (
        "REJECTED",
        "event_cancelled",
    )
    assert platform.app.event_cancellations.in_progress() == 0


def test_a_stored_version_1_cancellation_loads_without_a_reason(
    app: BookingCommandApplication, on_sale: OnSale
) -> None:
    booking_id = uuid4()
    uuid_of = {"_type_": "uuid_hex"}
    requested = {
        "originator_topic": "booking_command.domain.booking:Booking",
        "timestamp": {"_type_": "datetime_iso", "_data_": "2029-12-31T12:00:00+00:00"},
        "event_id": {**uuid_of, "_data_": on_sale.event_id.hex},
        "ticket_type_id": {**uuid_of, "_data_": on_sale.ticket_type_id.hex},
        "quantity": 1,
        "customer_name": "Old Timer",
        "customer_email": "old@example.com",
        "owner_id": "user-1",
        "unit_price": {"_type_": "decimal_str", "_data_": "10.00"},
        "currency": "EUR",
        "hold_expires_at": {"_type_": "datetime_iso", "_data_": "2029-12-31T12:02:00+00:00"},
        "payment_token": "",
        "class_version": 3,
    }
    confirmed = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2029-12-31T12:00:01+00:00"},
        "event_id": {**uuid_of, "_data_": on_sale.event_id.hex},
        "ticket_type_id": {**uuid_of, "_data_": on_sale.ticket_type_id.hex},
        "quantity": 1,
        "owner_id": "user-1",
        "customer_name": "Old Timer",
        "customer_email": "old@example.com",
        "total_price": {"_type_": "decimal_str", "_data_": "10.00"},
        "currency": "EUR",
    }
    cancelled = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2029-12-31T12:00:02+00:00"},
        "event_id": {**uuid_of, "_data_": on_sale.event_id.hex},
        "ticket_type_id": {**uuid_of, "_data_": on_sale.ticket_type_id.hex},
        "quantity": 1,
        "cancelled_by": "user-1",
    }
    app.recorder.insert_events(
        [
            StoredEvent(booking_id, version, f"booking_command.domain.booking:Booking.{name}", body)
            for version, name, body in (
                (1, "Requested", json.dumps(requested).encode()),
                (2, "Confirmed", json.dumps(confirmed).encode()),
                (3, "Cancelled", json.dumps(cancelled).encode()),
            )
        ]
    )
    booking = app.repository.get(booking_id)
    assert isinstance(booking, Booking)
    assert (booking.status, booking.cancelled_by, booking.cancellation_reason) == (
        "CANCELLED",
        "user-1",
        None,
    )
    public = to_public_event(next(iter(app.events.get(booking_id, gt=2))))
    assert isinstance(public, BookingCancelled)
    assert public.reason is None


def test_a_stored_version_1_event_cancellation_loads_naming_nobody(
    app: BookingCommandApplication,
) -> None:
    on_sale = put_event_on_sale(app)
    show = app.repository.get(on_sale.event_id)
    assert isinstance(show, Event)
    app.recorder.insert_events(
        [
            StoredEvent(
                on_sale.event_id,
                show.version + 1,
                "booking_command.domain.catalog_event:Event.Cancelled",
                json.dumps(
                    {
                        "timestamp": {
                            "_type_": "datetime_iso",
                            "_data_": "2029-12-31T12:00:00+00:00",
                        },
                        "reason": "storm",
                    }
                ).encode(),
            )
        ]
    )
    show = app.repository.get(on_sale.event_id)
    assert isinstance(show, Event)
    assert show.is_cancelled
    [cancelled] = list(app.events.get(on_sale.event_id, gt=show.version - 1))
    assert isinstance(cancelled, Event.Cancelled)
    assert cancelled.cancelled_by == ""
