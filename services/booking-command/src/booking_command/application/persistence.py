"""What the use cases need from the event store, and what every save adds to the events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, Recording

from booking_command.application.ports import (
    BookingRecorder,
    EventBooking,
    EventCancellationStarted,
    HoldChange,
    PaymentDueChange,
    RowsWithEvents,
)
from booking_command.domain.booking import Booking, RejectionReason
from booking_command.domain.catalog_event import Event
from booking_command.domain.correlated import Correlated

AggregateT = TypeVar("AggregateT", bound=Aggregate)

_HOLD_ENDING_EVENTS = (Booking.Confirmed, Booking.Rejected, Booking.Expired)
_PAYMENT_DUE_EVENTS = (Booking.PaymentDue, Booking.RefundDue)
# Not Booking.Expired: a payment in flight may still capture, so the payment worker
# settles an expired booking's due payment itself (refund, or nothing was charged).
_PAYMENT_SETTLING_EVENTS = (Booking.Confirmed, Booking.Rejected, Booking.PaymentRefunded)
# Nor a rejection because the event was cancelled: a payment may be in flight then too.
_PAYMENT_KEEPING_REJECTIONS = frozenset({RejectionReason.EVENT_CANCELLED.value})


class AggregateStore(Protocol):
    clock: Callable[[], datetime]
    events: EventStore[UUID]

    @property
    def booking_recorder(self) -> BookingRecorder: ...

    def load(self, aggregate_id: UUID, kind: type[AggregateT], label: str) -> AggregateT:
        """The aggregate of that kind, or NotFoundError naming it by `label`."""
        ...

    def load_many(
        self, aggregate_ids: Iterable[UUID], kind: type[AggregateT]
    ) -> dict[UUID, AggregateT]:
        """The aggregates of that kind among these ids, in one look-up (no snapshots)."""
        ...

    def store(
        self, aggregates: Iterable[Aggregate], rows: RowsWithEvents = ...
    ) -> list[Recording[UUID]]:
        """Saves the aggregates' new events and `rows` (plus their holds) in one transaction."""
        ...


def stamp_correlation(
    aggregate: Aggregate, correlation_id: str, traceparent: str | None = None
) -> None:
    """Records the request's correlation id (and trace, when tracing is on) on each new
    event that has none yet, for the headers the outbox relay publishes it with."""
    aggregate.pending_events[:] = [
        replace(pending, correlation_id=correlation_id, traceparent=traceparent)
        if isinstance(pending, Correlated) and pending.correlation_id is None
        else pending
        for pending in aggregate.pending_events
    ]


def hold_changes_of(aggregates: Iterable[Aggregate]) -> list[HoldChange]:
    """The holds that the aggregates' new events start or end."""
    changes: list[HoldChange] = []
    for aggregate in aggregates:
        for pending in aggregate.pending_events:
            if isinstance(pending, Booking.Requested):
                changes.append(HoldChange(pending.originator_id, pending.hold_expires_at))
            elif isinstance(pending, _HOLD_ENDING_EVENTS):
                changes.append(HoldChange(pending.originator_id, None))
    return changes


def payment_changes_of(aggregates: Iterable[Aggregate]) -> list[PaymentDueChange]:
    """The due payments that the aggregates' new events start or settle."""
    changes: list[PaymentDueChange] = []
    for aggregate in aggregates:
        for pending in aggregate.pending_events:
            if isinstance(pending, _PAYMENT_DUE_EVENTS):
                changes.append(
                    PaymentDueChange(
                        pending.originator_id,
                        True,
                        pending.correlation_id or "",
                        pending.traceparent,
                    )
                )
            elif isinstance(pending, _PAYMENT_SETTLING_EVENTS):
                if (
                    isinstance(pending, Booking.Rejected)
                    and pending.reason in _PAYMENT_KEEPING_REJECTIONS
                ):
                    continue
                changes.append(PaymentDueChange(pending.originator_id, due=False))
    return changes


def event_bookings_of(aggregates: Iterable[Aggregate]) -> list[EventBooking]:
    """The new bookings, for the index an event's cancellation walks."""
    return [
        EventBooking(pending.event_id, pending.originator_id)
        for aggregate in aggregates
        for pending in aggregate.pending_events
        if isinstance(pending, Booking.Requested)
    ]


def event_cancellations_of(
    aggregates: Iterable[Aggregate], now: datetime
) -> list[EventCancellationStarted]:
    """The cancelled events, whose bookings the event-cancellation worker then ends."""
    return [
        EventCancellationStarted(
            pending.originator_id,
            pending.cancelled_by,
            now,
            pending.correlation_id or "",
        )
        for aggregate in aggregates
        for pending in aggregate.pending_events
        if isinstance(pending, Event.Cancelled)
    ]
