"""An event's cancellation on PostgreSQL: the cascade over hundreds of bookings in batches,
refunds at the payment simulator, and the bookings index filled for bookings stored before
it existed."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import UUID

import pytest
from psycopg.sql import SQL, Identifier

from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication
from booking_command.bootstrap import Runtime
from booking_command.domain.booking import Booking

from ..unit.handling import prepare, store
from .conftest import booking_request, put_event_on_sale

pytestmark = pytest.mark.integration


def request(app: BookingCommandApplication, event_id: UUID, ticket_type_id: UUID) -> UUID:
    [result] = store(
        app,
        [booking_request(event_id, ticket_type_id, owner_id="fan-1")],
    )
    return result.id


def request_many(
    app: BookingCommandApplication, event_id: UUID, ticket_type_id: UUID, count: int
) -> list[UUID]:
    writes = [
        prepare(
            app,
            booking_request(event_id, ticket_type_id, owner_id="fan-1"),
        )
        for _ in range(count)
    ]
    return [result.id for result in app.commit(writes)]


def hold_tickets_of(app: BookingCommandApplication, booking_ids: list[UUID]) -> None:
    """Inventory held their tickets (as the hold step records it): their payments fall due."""
    bookings = [status_of(app, booking_id) for booking_id in booking_ids]
    for booking in bookings:
        booking.tickets_reserved()
    app.store(bookings)


def status_of(app: BookingCommandApplication, booking_id: UUID) -> Booking:
    booking = app.repository.get(booking_id)
    assert isinstance(booking, Booking)
    return booking


async def test_an_event_cancellation_ends_hundreds_of_bookings_in_batches_and_refunds(
    runtime: Runtime,
) -> None:
    app, run = runtime.app, runtime.executor.run
    _, event_id, ticket_type_id = await run(put_event_on_sale, app)
    paid = [await run(request, app, event_id, ticket_type_id) for _ in range(3)]
    await run(hold_tickets_of, app, paid)
    while await runtime.payment_worker.run_once():
        pass
    assert {(await run(status_of, app, b)).status for b in paid} == {"CONFIRMED"}
    waiting = await run(request_many, app, event_id, ticket_type_id, 450)

    cancel = commands.CancelEvent(event_id, reason="storm", cancelled_by="adm-1")
    await run(store, app, [cancel])
    app.event_cancellations.grace = timedelta(0)
    batches = 0
    started = time.perf_counter()
    while await runtime.event_cancellation_worker.run_once():
        batches += 1
    elapsed = time.perf_counter() - started
    print(f"\nevent cancellation: 453 bookings in {batches} batches, {elapsed:.2f}s")
    assert batches >= 453 // app.event_cancellations.batch_size
    assert await run(app.event_cancellations.in_progress) == 0

    for booking_id in waiting:
        booking = await run(status_of, app, booking_id)
        assert (booking.status, booking.rejection_reason) == ("REJECTED", "event_cancelled")
    deadline = time.monotonic() + 30
    while await run(app.booking_recorder.due_payment_count) and time.monotonic() < deadline:
        await runtime.payment_worker.run_once()
    for booking_id in paid:
        booking = await run(status_of, app, booking_id)
        assert (booking.status, booking.cancellation_reason) == ("CANCELLED", "event_cancelled")
        assert booking.payment_status == "refunded"
        history = [
            type(e).__name__ for e in await run(lambda b=booking_id: list(app.events.get(b)))
        ]
        assert history.count("Cancelled") == 1
        assert history.count("PaymentRefunded") == 1


async def test_bookings_stored_before_the_index_existed_are_indexed_at_start(
    runtime: Runtime,
) -> None:
    app, run = runtime.app, runtime.executor.run
    _, event_id, ticket_type_id = await run(put_event_on_sale, app)
    booked = await run(request_many, app, event_id, ticket_type_id, 5)
    recorder = app.booking_recorder
    index = Identifier(recorder.events_table_name.removesuffix("_events") + "_event_bookings")

    def forget_the_index() -> None:
        with recorder.datastore.transaction(commit=True) as curs:  # type: ignore[attr-defined]
            curs.execute(SQL("DELETE FROM {0}").format(index))

    await run(forget_the_index)
    assert await run(recorder.bookings_of_event, event_id, 0, 100) == []
    await run(recorder.create_table)
    indexed = await run(recorder.bookings_of_event, event_id, 0, 100)
    assert [booking_id for _, booking_id in indexed] == booked
