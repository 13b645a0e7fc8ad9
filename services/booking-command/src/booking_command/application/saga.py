"""The booking saga: inventory's answers move PENDING bookings on, exactly once.

A reservation makes the booking's payment due (the payment worker charges it and
confirms); a rejection rejects the booking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Tracking

from booking_command.application.persistence import AggregateStore, stamp_correlation
from booking_command.application.ports import PositionMoved, RowsWithEvents
from booking_command.domain.booking import Booking, RejectionReason


@dataclass(frozen=True)
class InventoryOutcome:
    """An inventory message as the saga sees it; `booking_id` None for stock-only news."""

    offset: int
    kind: str  # "reserved", "rejected" or "other"
    booking_id: UUID | None
    correlation_id: str
    reason: RejectionReason | None = None
    traceparent: str | None = None


DECISIVE = frozenset({"reserved", "rejected"})


@dataclass(frozen=True)
class SagaReport:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    payments_due: int = 0
    unknown_bookings: tuple[InventoryOutcome, ...] = ()


class BookingSaga:
    def __init__(self, store: AggregateStore) -> None:
        self._store = store

    def apply_inventory_outcomes(
        self,
        stream: str,
        outcomes: Sequence[InventoryOutcome],
        up_to: int,
        continues_from: int | None = None,
    ) -> SagaReport:
        """Moves bookings on inventory's answers; `stream` names one topic partition.

        `up_to` (the offset of the batch's last message, which may not be among
        `outcomes` when it was dead-lettered) is tracked in the same transaction as the
        booking changes, so a redelivered message finds its offset tracked and does nothing.
        Raises `PositionMoved` when the batch was not read from the tracked position
        (`continues_from`; None: no check).
        """
        tracked = self._store.booking_recorder.max_tracking_id(stream)
        position = tracked + 1 if tracked is not None else 0
        if continues_from is not None and continues_from != position:
            raise PositionMoved(
                f"{stream} is tracked up to {position}, not {continues_from} where this "
                "batch was read from"
            )
        if tracked is not None and up_to <= tracked:
            return SagaReport(duplicates=len(outcomes))
        fresh = [o for o in outcomes if tracked is None or o.offset > tracked]
        decisive = [o for o in fresh if o.booking_id is not None and o.kind in DECISIVE]
        loaded = self._store.load_many((o.booking_id for o in decisive if o.booking_id), Booking)
        bookings: dict[UUID, Booking] = {}
        applied = ignored = payments_due = 0
        unknown: list[InventoryOutcome] = []
        for outcome in fresh:
            if outcome.booking_id is None or outcome.kind not in DECISIVE:
                ignored += 1
                continue
            booking = loaded.get(outcome.booking_id)
            if booking is None:
                unknown.append(outcome)
                ignored += 1
                continue
            bookings[booking.id] = booking
            if not booking.is_pending:
                # Expired or already settled: inventory releases what it reserved
                # when it sees BookingExpired, which follows in the same partition.
                ignored += 1
                continue
            if outcome.kind == "reserved":
                booking.tickets_reserved()
                payments_due += 1
            else:
                booking.reject(outcome.reason or RejectionReason.SOLD_OUT)
            stamp_correlation(booking, outcome.correlation_id, outcome.traceparent)
            applied += 1
        self._store.store(bookings.values(), RowsWithEvents(tracking=Tracking(stream, up_to)))
        return SagaReport(
            applied=applied,
            duplicates=len(outcomes) - len(fresh),
            ignored=ignored,
            payments_due=payments_due,
            unknown_bookings=tuple(unknown),
        )
