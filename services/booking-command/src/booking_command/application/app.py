"""The event-sourced application: wires the use cases to one event store.

Every method is synchronous (eventsourcing's PostgreSQL adapter is) and runs on the
service's event-store thread pool. Handlers (`catalog`, `bookings`) return a `Change`;
the message bus makes it a `PendingWrite` and `commit` stores any number of them in one
transaction, which is what group commit builds on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, Recording
from eventsourcing.utils import EnvType

from booking_command.application.bookings import Bookings, EventsOnSale
from booking_command.application.catalog import Catalog
from booking_command.application.event_cancellations import EventCancellations
from booking_command.application.hold_expiry import HoldExpiry
from booking_command.application.idempotency import Idempotency
from booking_command.application.payments import Payments
from booking_command.application.persistence import (
    event_bookings_of,
    event_cancellations_of,
    hold_changes_of,
    payment_changes_of,
    stamp_correlation,
)
from booking_command.application.ports import BookingRecorder, RowsWithEvents
from booking_command.application.results import CommandResult, PendingWrite
from booking_command.domain.catalog_event import Event
from booking_command.domain.venue import Venue
from service_kit.errors import NotFoundError

logger = logging.getLogger(__name__)

AggregateT = TypeVar("AggregateT", bound=Aggregate)

OUTBOX_RELAY_TRACKING = "outbox-relay"
SNAPSHOT_INTERVAL = 50
# Venues and events live as long as the catalog; snapshots keep loading them cheap.
SNAPSHOT_INTERVALS: dict[type[Aggregate], int] = {
    Venue: SNAPSHOT_INTERVAL,
    Event: SNAPSHOT_INTERVAL,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class BookingCommandApplication(Application[UUID]):
    name = "BookingCommand"
    # Snapshots are taken in `store`, after the commit (see there), not by `save`.
    is_snapshotting_enabled = True

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        hold_for: timedelta = timedelta(seconds=120),
        idempotency_ttl: timedelta = timedelta(hours=24),
        catalog_cache_ttl_seconds: float = 1.0,
        event_cancellation_batch_size: int = 200,
        event_cancellation_grace: timedelta = timedelta(seconds=10),
        is_published: Callable[[object], bool] = lambda event: True,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self._is_published = is_published
        self.events_on_sale = EventsOnSale(self, ttl_seconds=catalog_cache_ttl_seconds)
        self.catalog = Catalog(self)
        self.bookings = Bookings(self, self.events_on_sale, hold_for=hold_for)
        self.idempotency = Idempotency(self, ttl=idempotency_ttl)
        self.hold_expiry = HoldExpiry(self)
        self.payments = Payments(self)
        self.event_cancellations = EventCancellations(
            self, batch_size=event_cancellation_batch_size, grace=event_cancellation_grace
        )
        # Suffix of the relay's tracking stream: each Kafka cluster has its own.
        self.tracking_epoch = ""

    def construct_recorder(self) -> ApplicationRecorder:
        return self.factory.process_recorder()

    @property
    def booking_recorder(self) -> BookingRecorder:
        recorder = self.recorder
        assert isinstance(recorder, BookingRecorder), type(recorder)
        return recorder

    def load_tracking_epoch(self) -> str:
        stored = self.booking_recorder.broker_epoch()
        self.tracking_epoch = stored[1] if stored is not None else ""
        return self.tracking_epoch

    @property
    def outbox_stream(self) -> str:
        return f"{OUTBOX_RELAY_TRACKING}{self.tracking_epoch}"

    def ping(self) -> None:
        """Readiness: one statement through the event store's own pool."""
        self.booking_recorder.ping()

    def outbox_position(self, stream: str | None = None) -> int:
        return self.booking_recorder.max_tracking_id(stream or self.outbox_stream) or 0

    def commit(self, writes: Sequence[PendingWrite]) -> list[CommandResult]:
        """Stores every write and its idempotency record in one transaction; all or none."""
        now = self.clock()
        aggregates: list[Aggregate] = []
        versions = [self.answered_version(write.primary) for write in writes]
        rows = RowsWithEvents(
            idempotency=[
                self.idempotency.record_for(write, write.idempotency, now, version)
                for write, version in zip(writes, versions, strict=True)
                if write.idempotency is not None
            ]
        )
        for write in writes:
            for aggregate in write.aggregates:
                stamp_correlation(aggregate, write.correlation_id, write.traceparent)
                aggregates.append(aggregate)
        # The position a reader waits for: the write's last event that reaches the read
        # models (a trailing internal one, such as a payment falling due, never would).
        positions: dict[UUID, int] = {}
        for recording in self.store(aggregates, rows):
            if not self._is_published(recording.domain_event):
                continue
            originator_id = recording.domain_event.originator_id
            positions[originator_id] = max(
                positions.get(originator_id, 0), recording.notification.id
            )
        self.events_on_sale.remember(aggregates)
        return [
            CommandResult(
                id=write.primary.id,
                version=version,
                position=positions.get(write.primary.id) or self._position_of(write.primary),
                status_code=write.answer.status_code,
                body=write.answer.body,
            )
            for write, version in zip(writes, versions, strict=True)
        ]

    def published_position(self, aggregate_id: UUID) -> int:
        """Where the read models have an aggregate as stored: the position of its last stored
        event they see (0 when none is stored)."""
        for event in self.events.get(aggregate_id, desc=True):
            if self._is_published(event):
                return (
                    self.booking_recorder.notification_id_of(aggregate_id, event.originator_version)
                    or 0
                )
        return 0

    def answered_version(self, aggregate: Aggregate) -> int:
        """The version a write is answered with: that of its last new event the read models
        will see (its trailing internal events, such as a payment falling due, they never do)."""
        for pending in reversed(aggregate.pending_events):
            if self._is_published(pending):
                return pending.originator_version
        return aggregate.version

    def store(
        self, aggregates: Iterable[Aggregate], rows: RowsWithEvents = RowsWithEvents()
    ) -> list[Recording[UUID]]:
        """Saves the aggregates' new events and `rows` (plus their holds) in one transaction."""
        aggregates = list(aggregates)
        unsaved = [list(aggregate.pending_events) for aggregate in aggregates]
        rows = replace(
            rows,
            holds=[*rows.holds, *hold_changes_of(aggregates)],
            payments=[*rows.payments, *payment_changes_of(aggregates)],
            event_bookings=[*rows.event_bookings, *event_bookings_of(aggregates)],
            event_cancellations=[
                *rows.event_cancellations,
                *event_cancellations_of(aggregates, self.clock()),
            ],
        )
        try:
            recordings = self.save(*aggregates, **rows.as_save_kwargs())
        except Exception:
            # save() took the events off the aggregates; put them back for a retry.
            for aggregate, events in zip(aggregates, unsaved, strict=True):
                aggregate.pending_events[:] = events
            raise
        self._take_due_snapshots(aggregates, recordings)
        return recordings

    def _take_due_snapshots(
        self, aggregates: Sequence[Aggregate], recordings: Sequence[Recording[UUID]]
    ) -> None:
        # After the commit, and never failing it: a write that is stored must be answered
        # as stored, or a retry would store it twice. A missed snapshot only costs a replay.
        kinds = {aggregate.id: type(aggregate) for aggregate in aggregates}
        for recording in recordings:
            event = recording.domain_event
            interval = SNAPSHOT_INTERVALS.get(kinds.get(event.originator_id, Aggregate))
            if interval is None or event.originator_version % interval:
                continue
            try:
                self.take_snapshot(event.originator_id, version=event.originator_version)
            except Exception:
                logger.exception("snapshot of %s failed", event.originator_id)

    def load(self, aggregate_id: UUID, kind: type[AggregateT], label: str) -> AggregateT:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"{label} {aggregate_id} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"{label} {aggregate_id} not found")
        return aggregate

    def load_many(
        self, aggregate_ids: Iterable[UUID], kind: type[AggregateT]
    ) -> dict[UUID, AggregateT]:
        """The aggregates of that kind among these ids (missing ones left out), read in one
        look-up; only for kinds without snapshots."""
        found: dict[UUID, AggregateT] = {}
        stored = self.booking_recorder.select_events_of(list(dict.fromkeys(aggregate_ids)))
        for aggregate_id, records in stored.items():
            aggregate: Any = project_aggregate(
                None, (self.mapper.to_domain_event(record) for record in records)
            )
            if isinstance(aggregate, kind):
                found[aggregate_id] = aggregate
        return found

    def _position_of(self, aggregate: Aggregate) -> int:
        return self.booking_recorder.notification_id_of(aggregate.id, aggregate.version) or 0
