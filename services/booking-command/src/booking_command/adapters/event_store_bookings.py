"""The bookings of the event store as the reconciliation compares them: each with its
status, payment and the ids of its published facts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from booking_command.adapters.public_events import OutboxMapper
from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.domain.booking import Booking, BookingStatus, PaymentStatus
from booking_command.domain.catalog_event import Event
from booking_command.domain.reconciliation import StoredBooking, StoredFacts

PAGE = 1000


class EventStoreBookings:
    def __init__(
        self, app: BookingCommandApplication, executor: EventStoreExecutor, mapper: OutboxMapper
    ) -> None:
        self._app = app
        self._executor = executor
        self._mapper = mapper

    async def event_ids(self) -> list[UUID]:
        return await self._executor.run(self._app.booking_recorder.events_with_bookings)

    async def position(self) -> int:
        return await self._executor.run(self._app.booking_recorder.positions_taken)

    async def advance_positions(self, past: int) -> int:
        return await self._executor.run(self._app.booking_recorder.advance_positions, past)

    async def bookings_of(self, event_id: UUID) -> list[StoredBooking]:
        booking_ids: list[UUID] = []
        after = 0
        while True:
            page = await self._executor.run(
                self._app.booking_recorder.bookings_of_event, event_id, after, PAGE
            )
            booking_ids.extend(booking_id for _, booking_id in page)
            if len(page) < PAGE:
                break
            after = page[-1][0]
        return await self.bookings(booking_ids)

    async def bookings(self, booking_ids: Sequence[UUID]) -> list[StoredBooking]:
        found: list[StoredBooking] = []
        for start in range(0, len(booking_ids), PAGE):
            found.extend(
                await self._executor.run(self._stored, list(booking_ids[start : start + PAGE]))
            )
        return found

    async def catalog_event(self, event_id: UUID) -> StoredFacts | None:
        return await self._executor.run(self._catalog_event, event_id)

    def _catalog_event(self, event_id: UUID) -> StoredFacts | None:
        records = self._app.booking_recorder.select_records_of([event_id]).get(event_id, [])
        events = [(position, self._mapper.domain_event(record)) for position, record in records]
        if not events or not isinstance(events[0][1], Event.Created):
            return None
        published = [
            (event, envelope)
            for position, event in events
            if (envelope := self._mapper.envelope_for(event, position)) is not None
        ]
        last = published[-1][0] if published else None
        return StoredFacts(
            subject=event_id,
            published_version=last.originator_version if last is not None else 0,
            recorded_at=last.timestamp if last is not None else None,
            held_event_ids=frozenset(envelope.event_id for _, envelope in published),
        )

    def _stored(self, booking_ids: list[UUID]) -> list[StoredBooking]:
        records = self._app.booking_recorder.select_records_of(booking_ids)
        found = []
        for stored in records.values():
            events = [(position, self._mapper.domain_event(record)) for position, record in stored]
            aggregate: Any = project_aggregate(None, (event for _, event in events))
            if not isinstance(aggregate, Booking):
                continue
            envelopes = [
                envelope
                for position, event in events
                if (envelope := self._mapper.envelope_for(event, position)) is not None
            ]
            found.append(_stored_booking(aggregate, envelopes))
        return found


def _stored_booking(booking: Booking, envelopes: list[Any]) -> StoredBooking:
    confirmed = booking.status == BookingStatus.CONFIRMED.value
    return StoredBooking(
        booking_id=booking.id,
        event_id=booking.event_id,
        ticket_type_id=booking.ticket_type_id,
        quantity=booking.quantity,
        status=booking.status,
        published_version=max((e.aggregate_version or 0 for e in envelopes), default=0),
        payment_status=booking.payment_status,
        payment_reference=booking.payment_reference,
        total_minor=booking.amount_due,
        currency=booking.currency,
        # A charge still to make, or a capture of a booking that ended otherwise: its refund.
        payment_due=booking.payment_is_due
        or (booking.payment_status == PaymentStatus.CAPTURED.value and not confirmed),
        held_event_ids=frozenset(envelope.event_id for envelope in envelopes),
    )
