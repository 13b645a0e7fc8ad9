"""The payment use case: claim due payments, and record what the provider knows of them.

Due payments live in the event store's payments-due table, written in the transaction
that makes them due (the hold's commit, or a cancellation's), so a crash never loses one.
The payment worker (`payment_worker.py`) claims a batch with a lease, brings each payment
to an end at the provider and hands the results here: each booking settles its own
(`Booking.settle_payment`) and everything finished together is stored in one transaction,
which also settles the due rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from booking_command.application.persistence import AggregateStore, stamp_correlation
from booking_command.application.ports import PaymentDueChange, RowsWithEvents
from booking_command.domain.booking import EXPIRED_REFUND_REASON, Booking
from booking_command.domain.payment import PaymentResult, Settlement
from service_kit.errors import ConflictError
from service_kit.request_context import new_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentTask:
    """What charging one booking needs, read when its due payment was claimed."""

    booking_id: UUID
    attempts: int
    correlation_id: str
    pending: bool
    payment_status: str | None
    payment_reference: str | None
    amount: int
    currency: str
    payment_token: str = field(repr=False)
    # Why a capture is given back: the booking expired, was cancelled, or its event was.
    refund_reason: str = EXPIRED_REFUND_REASON
    # The trace of the request that made the payment due, continued by the worker.
    traceparent: str | None = None


@dataclass(frozen=True)
class RecordReport:
    confirmed: int = 0
    declined: int = 0
    refunded: int = 0
    # Captured but not confirmable (the booking ended meanwhile): refund them next.
    to_refund: tuple[UUID, ...] = ()


class Payments:
    """The event-store side of the payment step (synchronous, on the executor)."""

    def __init__(self, store: AggregateStore) -> None:
        self._store = store

    def claim_due(self, limit: int, lease: timedelta) -> list[PaymentTask]:
        now = self._store.clock()
        due = self._store.booking_recorder.claim_due_payments(now, limit, now + lease)
        if not due:
            return []
        bookings = self._store.load_many((payment.booking_id for payment in due), Booking)
        tasks: list[PaymentTask] = []
        unknown: list[PaymentDueChange] = []
        for payment in due:
            booking = bookings.get(payment.booking_id)
            if booking is None:
                unknown.append(PaymentDueChange(payment.booking_id, due=False))
                continue
            tasks.append(
                PaymentTask(
                    booking_id=booking.id,
                    attempts=payment.attempts,
                    correlation_id=payment.correlation_id or new_id(),
                    pending=booking.is_pending,
                    payment_status=booking.payment_status,
                    payment_reference=booking.payment_reference,
                    amount=booking.amount_due,
                    currency=booking.currency,
                    payment_token=booking.payment_token,
                    refund_reason=booking.refund_reason,
                    traceparent=payment.traceparent,
                )
            )
        if unknown:
            self._store.store([], RowsWithEvents(payments=unknown))
        return tasks

    def now(self) -> datetime:
        return self._store.clock()

    def postpone(self, booking_ids: Sequence[UUID], delay: timedelta) -> None:
        self._store.booking_recorder.postpone_payments(
            list(booking_ids), self._store.clock() + delay
        )

    def record(
        self, results: Sequence[PaymentResult], traces: Mapping[UUID, str | None] = {}
    ) -> RecordReport:
        """Records every result in one transaction; when a booking changed meanwhile (its
        hold expired), each is recorded on its own against the booking's fresh state.
        `traces`: the trace each booking's facts continue (its request's)."""
        if not results:
            return RecordReport()
        try:
            return self._record_together(results, traces)
        except IntegrityError:
            reports = [self._record_together([result], traces) for result in results]
        return RecordReport(
            confirmed=sum(report.confirmed for report in reports),
            declined=sum(report.declined for report in reports),
            refunded=sum(report.refunded for report in reports),
            to_refund=tuple(booking for report in reports for booking in report.to_refund),
        )

    def _record_together(
        self, results: Sequence[PaymentResult], traces: Mapping[UUID, str | None]
    ) -> RecordReport:
        bookings = self._store.load_many((result.booking_id for result in results), Booking)
        changed: list[Booking] = []
        no_longer_due: list[PaymentDueChange] = []
        settlements: list[Settlement] = []
        to_refund: list[UUID] = []
        for result in results:
            booking = bookings.get(result.booking_id)
            if booking is None:
                continue
            try:
                settlement = booking.settle_payment(result)
            except ConflictError:
                # Never expected (the key pins the amount); left due for a person to see.
                logger.exception(
                    "capture does not match the booking", extra={"booking_id": str(booking.id)}
                )
                continue
            settlements.append(settlement)
            if settlement == Settlement.TO_REFUND:
                to_refund.append(booking.id)
            elif settlement == Settlement.NOTHING_DUE:
                no_longer_due.append(PaymentDueChange(booking.id, due=False))
            if booking.pending_events:
                stamp_correlation(booking, result.correlation_id, traces.get(booking.id))
                changed.append(booking)
        self._store.store(changed, RowsWithEvents(payments=no_longer_due))
        return RecordReport(
            confirmed=settlements.count(Settlement.CONFIRMED),
            declined=settlements.count(Settlement.DECLINED),
            refunded=settlements.count(Settlement.REFUNDED),
            to_refund=tuple(to_refund),
        )
