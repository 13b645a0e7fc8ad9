"""An event's cancellation ends every booking of it, in batches, surviving restarts.

Cancelling the event records the cascade's work in the same transaction (the
event-cancellations table). The worker claims one cancellation at a time with a lease and
walks the event's bookings in the order they were stored (the event-bookings index),
a batch per transaction: each booking is ended (see `Booking.end_for_cancelled_event`)
and the cursor moves on in the same transaction, so a restart continues where it stopped
and never ends a booking twice. Refunds fall due with the cancellations; the payment
worker performs them.

A booking that another replica accepted just before it saw the cancellation (its catalog
cache) may commit after the cursor passed its place: once the walk is done and the grace
period (longer than any such request) has passed, one final pass from the start ends it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventsourcing.persistence import IntegrityError

from booking_command.application.executor import EventStoreExecutor
from booking_command.application.persistence import AggregateStore, stamp_correlation
from booking_command.application.ports import (
    EventCancellationProgress,
    EventCancellationTask,
    RowsWithEvents,
)
from booking_command.domain.booking import Booking
from service_kit.background import WokenRounds

logger = logging.getLogger(__name__)

CONFLICT_RETRIES = 5
# Who cancelled the bookings of an event whose cancellation names nobody (stored before
# events recorded their canceller).
UNNAMED_CANCELLER = "platform"


@dataclass(frozen=True)
class CascadeReport:
    """One batch: bookings ended, refunds that fell due; `more` when it should go on at once."""

    cancelled: int = 0
    rejected: int = 0
    refunds_due: int = 0
    more: bool = False


class EventCancellations:
    """The event-store side of the cascade (synchronous, on the executor)."""

    def __init__(
        self,
        store: AggregateStore,
        *,
        batch_size: int = 200,
        grace: timedelta = timedelta(seconds=10),
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._store = store
        self.batch_size = batch_size
        self.grace = grace
        self.lease = lease

    def end_next_batch(self) -> CascadeReport:
        """Ends the next batch of bookings of one cancelled event (if any is due)."""
        now = self._store.clock()
        task = self._store.booking_recorder.claim_event_cancellation(now, now + self.lease)
        if task is None:
            return CascadeReport()
        for _ in range(CONFLICT_RETRIES):
            try:
                return self._end_batch(task)
            except IntegrityError:
                # A booking changed meanwhile (confirmed, expired): read it again.
                logger.info("event cancellation batch conflicted; retrying")
        return CascadeReport(more=True)

    def _end_batch(self, task: EventCancellationTask) -> CascadeReport:
        now = self._store.clock()
        rows = self._store.booking_recorder.bookings_of_event(
            task.event_id, task.after_seq, self.batch_size
        )
        bookings = self._store.load_many((booking_id for _, booking_id in rows), Booking)
        changed: list[Booking] = []
        cancelled = rejected = refunds_due = 0
        for _, booking_id in rows:
            booking = bookings.get(booking_id)
            if booking is None:
                continue
            was_confirmed = not booking.is_pending
            cancelled_by = task.cancelled_by or UNNAMED_CANCELLER
            if not booking.end_for_cancelled_event(cancelled_by=cancelled_by):
                continue
            if was_confirmed:
                cancelled += 1
                refunds_due += int(booking.is_captured)
            else:
                rejected += 1
            stamp_correlation(booking, task.correlation_id)
            changed.append(booking)
        progress = self._progress(task, rows[-1][0] if rows else None, now)
        self._store.store(changed, RowsWithEvents(event_cancellations=[progress]))
        if progress.due_at is None:
            logger.info("event cancellation done", extra={"event_id": str(task.event_id)})
        return CascadeReport(
            cancelled, rejected, refunds_due, more=bool(rows) or progress.due_at == now
        )

    def _progress(
        self, task: EventCancellationTask, last_seq: int | None, now: datetime
    ) -> EventCancellationProgress:
        if last_seq is not None:
            return EventCancellationProgress(task.event_id, last_seq, task.swept, due_at=now)
        settled_at = task.cancelled_at + self.grace
        if now < settled_at:
            return EventCancellationProgress(
                task.event_id, task.after_seq, task.swept, due_at=settled_at
            )
        if not task.swept:
            return EventCancellationProgress(task.event_id, 0, swept=True, due_at=now)
        return EventCancellationProgress(task.event_id, task.after_seq, swept=True, due_at=None)

    def in_progress(self) -> int:
        return self._store.booking_recorder.event_cancellation_count()


class EventCancellationWorker:
    """Runs the cascade; `wake()` starts a round at once (after an event's cancellation)."""

    def __init__(
        self,
        cancellations: EventCancellations,
        executor: EventStoreExecutor,
        *,
        idle_poll_seconds: float = 1.0,
        after_batch: Callable[[CascadeReport], None] = lambda report: None,
    ) -> None:
        self.cancellations = cancellations
        self.executor = executor
        self.idle_poll_seconds = idle_poll_seconds
        self._after_batch = after_batch
        self._rounds = WokenRounds(
            "event-cancellation-worker", self.run_once, self.idle_poll_seconds
        )

    def start(self) -> None:
        self._rounds.task.start()

    async def stop(self) -> None:
        await self._rounds.task.stop()

    async def probe(self) -> None:
        await self._rounds.task.probe()

    def wake(self) -> None:
        self._rounds.wake()

    async def run_once(self) -> bool:
        """One batch; True when more is to be done at once."""
        report = await self.executor.run(self.cancellations.end_next_batch)
        if report.cancelled or report.rejected:
            self._after_batch(report)
        return report.more
