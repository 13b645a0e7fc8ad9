"""The payment step: the worker against the in-memory event store and a fake provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import pytest
import pytest_asyncio

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.payment_worker import PaymentWorker, PaymentWorkerOptions
from booking_command.domain.booking import Booking

from .conftest import HOLD, Clock, OnSale, book, reserve
from .fake_payment_provider import FakePaymentProvider


@dataclass
class Payments:
    app: BookingCommandApplication
    provider: FakePaymentProvider
    worker: PaymentWorker
    clock: Clock

    def book(self, on_sale: OnSale, card: str = "tok_visa", quantity: int = 2) -> UUID:
        booking_id = book(self.app, on_sale, quantity=quantity, card=card)
        reserve(self.app, booking_id)
        return booking_id

    def booking(self, booking_id: UUID) -> Booking:
        booking = self.app.repository.get(booking_id)
        assert isinstance(booking, Booking)
        return booking

    def history(self, booking_id: UUID) -> list[str]:
        return [type(event).__name__ for event in self.app.events.get(booking_id)]

    def due(self) -> int:
        return self.app.booking_recorder.due_payment_count()


@pytest_asyncio.fixture
async def payments(app: BookingCommandApplication, clock: Clock) -> AsyncIterator[Payments]:
    executor = EventStoreExecutor(4)
    provider = FakePaymentProvider()
    worker = PaymentWorker(
        app.payments,
        provider,
        executor,
        PaymentWorkerOptions(retry_initial_seconds=1.0, retry_max_seconds=8.0),
    )
    yield Payments(app, provider, worker, clock)
    executor.shutdown()


async def test_a_reserved_booking_is_charged_its_total_once_then_confirmed(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale, quantity=3)
    await payments.worker.run_once()
    booking = payments.booking(booking_id)
    assert (booking.status, booking.payment_status) == ("CONFIRMED", "captured")
    [intent] = payments.provider.intents.values()
    assert booking.payment_reference == intent.id
    assert (intent.amount, intent.amount_received, intent.currency) == (14850, 14850, "eur")
    assert payments.provider.captures == [intent.id]
    assert payments.provider.calls == ["create_intent", "capture"]
    # One fact for the capture and the confirmation it makes.
    assert payments.history(booking_id) == ["Requested", "PaymentDue", "Confirmed"]
    assert payments.due() == 0
    assert await payments.worker.run_once() is False, "nothing left to charge"


async def test_a_declined_card_rejects_the_booking_as_payment_declined(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale, card="tok_chargeDeclined")
    await payments.worker.run_once()
    booking = payments.booking(booking_id)
    assert (booking.status, booking.rejection_reason, booking.payment_status) == (
        "REJECTED",
        "payment_declined",
        "declined",
    )
    assert payments.provider.captures == []
    assert payments.due() == 0
    assert payments.app.booking_recorder.pending_hold_count() == 0


async def test_a_payment_stays_due_while_the_provider_is_down_and_is_charged_later(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale)
    payments.provider.down = True
    await payments.worker.run_once()
    assert payments.booking(booking_id).status == "PENDING"
    assert payments.due() == 1
    calls = len(payments.provider.calls)
    await payments.worker.run_once()
    assert len(payments.provider.calls) == calls, "postponed: not asked again at once"
    payments.provider.down = False
    payments.clock.advance(1)
    await payments.worker.run_once()
    assert payments.booking(booking_id).status == "CONFIRMED"
    assert len(payments.provider.captures) == 1


async def test_a_timed_out_charge_is_looked_up_by_its_key_before_anything_else(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale)
    payments.provider.time_out_next_create = True
    await payments.worker.run_once()
    assert payments.booking(booking_id).status == "PENDING"
    payments.clock.advance(1)
    await payments.worker.run_once()
    assert payments.provider.calls == ["create_intent", "find_intent", "capture"]
    assert len(payments.provider.intents) == 1
    assert payments.booking(booking_id).status == "CONFIRMED"


async def test_when_the_hold_expires_before_the_provider_answers_nothing_stays_charged(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale)
    payments.provider.down = True
    await payments.worker.run_once()
    payments.clock.advance(HOLD.total_seconds())
    assert payments.app.hold_expiry.expire_due_holds() == 1
    payments.provider.down = False
    await payments.worker.run_once()
    assert payments.booking(booking_id).status == "EXPIRED"
    assert payments.provider.charged() == 0
    assert payments.due() == 1, "tried before: looked up once more before it is forgotten"
    payments.clock.advance(payments.worker.options.recheck_after_seconds)
    await payments.worker.run_once()
    assert payments.provider.charged() == 0
    assert payments.due() == 0


async def test_a_charge_landing_late_after_an_empty_look_up_is_still_cancelled(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale)
    payments.provider.delay_next_create = True
    await payments.worker.run_once()
    payments.clock.advance(HOLD.total_seconds())
    assert payments.app.hold_expiry.expire_due_holds() == 1
    await payments.worker.run_once()
    assert payments.provider.intents == {}, "nothing at the provider yet"
    payments.provider.land_late_creates()
    payments.clock.advance(payments.worker.options.recheck_after_seconds)
    await payments.worker.run_once()
    [intent] = payments.provider.intents.values()
    assert intent.status == "canceled"
    assert payments.provider.captures == []
    assert (payments.booking(booking_id).status, payments.due()) == ("EXPIRED", 0)


async def test_a_slow_charge_does_not_hold_back_the_confirmations_of_its_batch(
    payments: Payments, on_sale: OnSale
) -> None:
    quick = payments.book(on_sale, quantity=1)
    slow = payments.book(on_sale, quantity=2)
    answer = asyncio.Event()
    payments.provider.capture_gates[payments.booking(slow).amount_due] = answer
    round_ = asyncio.create_task(payments.worker.run_once())
    for _ in range(200):
        if payments.booking(quick).status == "CONFIRMED":
            break
        await asyncio.sleep(0.01)
    assert (payments.booking(quick).status, payments.booking(slow).status) == (
        "CONFIRMED",
        "PENDING",
    )
    answer.set()
    await round_
    assert payments.booking(slow).status == "CONFIRMED"


async def test_an_authorisation_left_by_a_timed_out_charge_is_cancelled_after_expiry(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale)
    payments.provider.time_out_next_create = True
    await payments.worker.run_once()
    payments.clock.advance(HOLD.total_seconds())
    assert payments.app.hold_expiry.expire_due_holds() == 1
    await payments.worker.run_once()
    [intent] = payments.provider.intents.values()
    assert intent.status == "canceled"
    assert payments.provider.captures == []
    assert (payments.booking(booking_id).status, payments.due()) == ("EXPIRED", 0)


async def test_a_capture_landing_after_the_hold_expired_is_refunded_and_published(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale)

    async def hold_runs_out() -> None:
        payments.clock.advance(HOLD.total_seconds())
        payments.app.hold_expiry.expire_due_holds()

    payments.provider.before_capture_answer = hold_runs_out
    assert await payments.worker.run_once() is True, "a refund is due at once"
    payments.provider.before_capture_answer = None
    await payments.worker.run_once()
    booking = payments.booking(booking_id)
    assert (booking.status, booking.payment_status) == ("EXPIRED", "refunded")
    assert payments.history(booking_id)[-3:] == ["Expired", "PaymentCaptured", "PaymentRefunded"]
    assert len(payments.provider.captures) == 1
    assert payments.provider.charged() == 0
    assert payments.due() == 0


async def test_a_crashed_round_is_taken_up_again_after_its_lease_without_a_second_charge(
    payments: Payments, on_sale: OnSale
) -> None:
    booking_id = payments.book(on_sale)
    claimed = payments.app.payments.claim_due(
        10, lease=timedelta(seconds=payments.worker.options.lease_seconds)
    )
    assert [task.booking_id for task in claimed] == [booking_id]
    await payments.provider.create_intent(
        idempotency_key=f"booking-{booking_id}-charge",
        amount=claimed[0].amount,
        currency="eur",
        payment_token="tok_visa",
        booking_id=booking_id,
    )
    # ... the replica dies here; the lease runs out.
    assert await payments.worker.run_once() is False
    payments.clock.advance(payments.worker.options.lease_seconds)
    await payments.worker.run_once()
    assert payments.booking(booking_id).status == "CONFIRMED"
    assert len(payments.provider.intents) == 1
    assert payments.provider.calls[-2:] == ["find_intent", "capture"]


@pytest.mark.parametrize("bookings", [3])
async def test_a_batch_charges_every_due_payment_and_records_them_together(
    payments: Payments, on_sale: OnSale, bookings: int
) -> None:
    ids = [payments.book(on_sale) for _ in range(bookings)]
    await payments.worker.run_once()
    assert {payments.booking(booking_id).status for booking_id in ids} == {"CONFIRMED"}
    assert len(payments.provider.captures) == bookings
