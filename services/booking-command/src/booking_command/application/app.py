"""The event-sourced application: catalog and booking use cases on one event store.

Every method is synchronous (eventsourcing's PostgreSQL adapter is) and runs on the
service's event-store thread pool. Use cases prepare a `PendingWrite`; `commit`
stores any number of them in one transaction, which is what group commit builds on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, Recording, Tracking
from eventsourcing.utils import EnvType

from booking_command.application.ports import BookingRecorder, HoldChange, IdempotencyRecord
from booking_command.application.results import CommandResult, IdempotencyClaim, PendingWrite
from booking_command.application.views import (
    booking_view,
    event_view,
    ticket_type_view,
    venue_view,
)
from booking_command.domain.booking import Booking, RejectionReason
from booking_command.domain.catalog_event import Event, TicketTypeSpec
from booking_command.domain.venue import Venue
from service_kit.errors import ConflictError, InvalidInputError, NotFoundError
from service_kit.request_context import current_correlation_id, new_id

logger = logging.getLogger(__name__)

AggregateT = TypeVar("AggregateT", bound=Aggregate)

OUTBOX_RELAY_TRACKING = "outbox-relay"
SNAPSHOT_INTERVAL = 50
_HOLD_ENDING_EVENTS = frozenset({"Booking.Confirmed", "Booking.Rejected", "Booking.Expired"})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class InventoryOutcome:
    """An inventory message as the saga sees it; `booking_id` None for stock-only news."""

    offset: int
    kind: str  # "reserved", "rejected" or "other"
    booking_id: UUID | None
    correlation_id: str
    reason: RejectionReason | None = None


@dataclass(frozen=True)
class SagaReport:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0


class BookingCommandApplication(Application[UUID]):
    name = "BookingCommand"
    # Venues and events live as long as the catalog; snapshots keep loading them cheap.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Venue: SNAPSHOT_INTERVAL,
        Event: SNAPSHOT_INTERVAL,
    }

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        hold_for: timedelta = timedelta(seconds=120),
        idempotency_ttl: timedelta = timedelta(hours=24),
        catalog_cache_ttl_seconds: float = 1.0,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.hold_for = hold_for
        self.idempotency_ttl = idempotency_ttl
        self.catalog_cache_ttl_seconds = catalog_cache_ttl_seconds
        self._events_on_sale: dict[UUID, tuple[Event, float]] = {}

    def construct_recorder(self) -> ApplicationRecorder:
        return self.factory.process_recorder()

    @property
    def booking_recorder(self) -> BookingRecorder:
        recorder = self.recorder
        assert isinstance(recorder, BookingRecorder), type(recorder)
        return recorder

    # Venues

    def register_venue(self, *, name: str, capacity: int, address: str) -> PendingWrite:
        venue = Venue.register(name=name, capacity=capacity, address=address)
        return self._write(201, venue_view(venue), venue)

    def update_venue(
        self, venue_id: UUID, *, name: str, capacity: int, address: str
    ) -> PendingWrite:
        venue = self._load(venue_id, Venue, "venue")
        venue.update(name=name, capacity=capacity, address=address)
        return self._write(200, venue_view(venue), venue)

    def delete_venue(self, venue_id: UUID) -> PendingWrite:
        venue = self._load(venue_id, Venue, "venue")
        venue.delete(now=self.clock())
        return self._write(200, venue_view(venue), venue)

    # Events

    def schedule_event(
        self,
        *,
        venue_id: UUID,
        name: str,
        description: str,
        starts_at: datetime,
        ticket_types: Sequence[TicketTypeSpec],
    ) -> PendingWrite:
        venue = self._load(venue_id, Venue, "venue")
        if venue.deleted:
            raise NotFoundError(f"venue {venue_id} not found")
        show = Event.schedule(
            venue_id=venue_id,
            venue_capacity=venue.capacity,
            name=name,
            description=description,
            starts_at=starts_at,
            ticket_types=ticket_types,
            now=self.clock(),
        )
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return self._write(201, event_view(show), show, venue)

    def change_event_details(self, event_id: UUID, *, name: str, description: str) -> PendingWrite:
        show = self._load(event_id, Event, "event")
        show.change_details(name=name, description=description)
        return self._write(200, event_view(show), show)

    def add_ticket_type(self, event_id: UUID, spec: TicketTypeSpec) -> PendingWrite:
        show = self._load(event_id, Event, "event")
        venue = self._load(show.venue_id, Venue, "venue")
        added = show.add_ticket_type(spec, venue_capacity=venue.capacity)
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        body = {**event_view(show), "ticket_type": ticket_type_view(added)}
        return self._write(201, body, show, venue)

    def publish_event(self, event_id: UUID) -> PendingWrite:
        show = self._load(event_id, Event, "event")
        show.publish(now=self.clock())
        return self._write(200, event_view(show), show)

    def reschedule_event(self, event_id: UUID, *, starts_at: datetime) -> PendingWrite:
        show = self._load(event_id, Event, "event")
        venue = self._load(show.venue_id, Venue, "venue")
        show.reschedule(starts_at=starts_at, now=self.clock())
        venue.schedule_show(event_id=show.id, starts_at=show.starts_at, tickets=show.total_tickets)
        return self._write(200, event_view(show), show, venue)

    def cancel_event(self, event_id: UUID, *, reason: str) -> PendingWrite:
        show = self._load(event_id, Event, "event")
        venue = self._load(show.venue_id, Venue, "venue")
        show.cancel(reason=reason)
        venue.remove_show(event_id=show.id)
        return self._write(200, event_view(show), show, venue)

    # Bookings

    def request_booking(
        self,
        *,
        event_id: UUID,
        ticket_type_id: UUID,
        quantity: int,
        customer_name: str,
        customer_email: str,
        owner_id: str,
    ) -> PendingWrite:
        booking = Booking.request(
            show=self.event_on_sale(event_id),
            ticket_type_id=ticket_type_id,
            quantity=quantity,
            customer_name=customer_name,
            customer_email=customer_email,
            owner_id=owner_id,
            now=self.clock(),
            hold_for=self.hold_for,
        )
        return self._write(202, booking_view(booking), booking)

    def cancel_booking(self, booking_id: UUID, *, caller_id: str, is_admin: bool) -> PendingWrite:
        booking = self.get_booking(booking_id, caller_id=caller_id, is_admin=is_admin)
        booking.cancel(cancelled_by=caller_id)
        return self._write(200, booking_view(booking), booking)

    def get_booking(self, booking_id: UUID, *, caller_id: str, is_admin: bool) -> Booking:
        """The booking, if the caller may see it; to anyone else it does not exist."""
        booking = self._load(booking_id, Booking, "booking")
        if not is_admin and booking.owner_id != caller_id:
            raise NotFoundError(f"booking {booking_id} not found")
        return booking

    def event_on_sale(self, event_id: UUID) -> Event:
        """The event for pricing a booking: cached, refreshed by our writes and a short TTL."""
        cached = self._events_on_sale.get(event_id)
        if cached is not None and time.monotonic() - cached[1] < self.catalog_cache_ttl_seconds:
            return cached[0]
        show = self._load(event_id, Event, "event")
        self._events_on_sale[event_id] = (show, time.monotonic())
        return show

    # Writes

    def _write(
        self, status_code: int, body: dict[str, Any], *aggregates: Aggregate
    ) -> PendingWrite:
        return PendingWrite(
            aggregates=aggregates,
            status_code=status_code,
            body=body,
            correlation_id=current_correlation_id() or new_id(),
        )

    def commit(self, writes: Sequence[PendingWrite]) -> list[CommandResult]:
        """Stores every write in one transaction; all of them or none."""
        now = self.clock()
        records: list[IdempotencyRecord] = []
        aggregates: list[Aggregate] = []
        for write in writes:
            for aggregate in write.aggregates:
                stamp_correlation(aggregate, write.correlation_id)
                aggregates.append(aggregate)
            if write.idempotency is not None:
                records.append(self._idempotency_record(write, write.idempotency, now))
        recordings = self._store(aggregates, idempotency=records)
        positions: dict[UUID, int] = {}
        for recording in recordings:
            originator_id = recording.domain_event.originator_id
            positions[originator_id] = max(
                positions.get(originator_id, 0), recording.notification.id
            )
        self._remember_events(aggregates)
        return [
            CommandResult(
                id=write.primary.id,
                version=write.primary.version,
                position=positions.get(write.primary.id) or self._position_of(write.primary),
                status_code=write.status_code,
                body=write.body,
            )
            for write in writes
        ]

    def _position_of(self, aggregate: Aggregate) -> int:
        return self.booking_recorder.notification_id_of(aggregate.id, aggregate.version) or 0

    def _idempotency_record(
        self, write: PendingWrite, claim: IdempotencyClaim, now: datetime
    ) -> IdempotencyRecord:
        return IdempotencyRecord(
            scope=claim.scope,
            key=claim.key,
            fingerprint=claim.fingerprint,
            status_code=write.status_code,
            body=write.body,
            aggregate_id=write.primary.id,
            aggregate_version=write.primary.version,
            created_at=now,
            expires_at=now + self.idempotency_ttl,
        )

    def replay(self, claim: IdempotencyClaim) -> CommandResult | None:
        """The original answer to this key, or None when the key is new (or expired)."""
        record = self.booking_recorder.find_idempotency_record(claim.scope, claim.key, self.clock())
        if record is None:
            return None
        if record.fingerprint != claim.fingerprint:
            raise InvalidInputError(
                "this Idempotency-Key was used with a different request",
                error_type="idempotency_key_mismatch",
            )
        position = self.booking_recorder.notification_id_of(
            record.aggregate_id, record.aggregate_version
        )
        return CommandResult(
            id=record.aggregate_id,
            version=record.aggregate_version,
            position=position or 0,
            status_code=record.status_code,
            body=record.body,
            replayed=True,
        )

    def purge_idempotency_records(self) -> int:
        return self.booking_recorder.purge_idempotency_records(self.clock())

    def _store(
        self,
        aggregates: Iterable[Aggregate],
        *,
        tracking: Tracking | None = None,
        idempotency: Sequence[IdempotencyRecord] = (),
        holds: Sequence[HoldChange] = (),
    ) -> list[Recording[UUID]]:
        aggregates = list(aggregates)
        unsaved = [list(aggregate.pending_events) for aggregate in aggregates]
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        processing.collect_events(*aggregates)
        hold_changes = [*holds, *hold_changes_of(processing.events)]
        processing.saved_kwargs.update(idempotency=list(idempotency), holds=hold_changes)
        try:
            recordings = self._record(processing)
        except Exception:
            # Collecting took the events off the aggregates; put them back for a retry.
            for aggregate, events in zip(aggregates, unsaved, strict=True):
                aggregate.pending_events[:] = events
            raise
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    def _remember_events(self, aggregates: Iterable[Aggregate]) -> None:
        for aggregate in aggregates:
            if isinstance(aggregate, Event):
                self._events_on_sale[aggregate.id] = (aggregate, time.monotonic())

    def _load(self, aggregate_id: UUID, kind: type[AggregateT], label: str) -> AggregateT:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"{label} {aggregate_id} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"{label} {aggregate_id} not found")
        return aggregate

    # Booking saga

    def apply_inventory_outcomes(
        self, stream: str, outcomes: Sequence[InventoryOutcome]
    ) -> SagaReport:
        """Moves bookings on inventory's answers; `stream` names one topic partition.

        The highest offset is tracked in the same transaction as the booking changes,
        so a redelivered message finds its offset already tracked and does nothing.
        """
        tracked = self.booking_recorder.max_tracking_id(stream)
        fresh = [o for o in outcomes if tracked is None or o.offset > tracked]
        if not fresh:
            return SagaReport(duplicates=len(outcomes))
        bookings: dict[UUID, Booking] = {}
        applied = ignored = 0
        for outcome in fresh:
            if outcome.booking_id is None or outcome.kind not in ("reserved", "rejected"):
                ignored += 1
                continue
            booking = bookings.get(outcome.booking_id)
            if booking is None:
                try:
                    booking = self._load(outcome.booking_id, Booking, "booking")
                except NotFoundError:
                    logger.warning("inventory outcome for unknown booking %s", outcome.booking_id)
                    ignored += 1
                    continue
                bookings[booking.id] = booking
            if not booking.is_pending:
                # Expired or already settled: inventory releases what it reserved
                # when it sees BookingExpired, which follows in the same partition.
                ignored += 1
                continue
            if outcome.kind == "reserved":
                booking.confirm()
            else:
                booking.reject(outcome.reason or RejectionReason.SOLD_OUT)
            stamp_correlation(booking, outcome.correlation_id)
            applied += 1
        self._store(bookings.values(), tracking=Tracking(stream, fresh[-1].offset))
        return SagaReport(applied=applied, duplicates=len(outcomes) - len(fresh), ignored=ignored)

    # Hold expiry

    def expire_due_holds(self, limit: int = 200) -> int:
        """Expires PENDING bookings whose hold has run out; returns how many."""
        now = self.clock()
        due = self.booking_recorder.expired_holds(now, limit)
        expired: list[Booking] = []
        stale: list[HoldChange] = []
        for booking_id in due:
            try:
                booking = self._load(booking_id, Booking, "booking")
            except NotFoundError:
                stale.append(HoldChange(booking_id, None))
                continue
            if not booking.is_pending:
                stale.append(HoldChange(booking_id, None))
                continue
            try:
                booking.expire(now=now)
            except ConflictError:
                continue
            stamp_correlation(booking, self._origin_correlation_id(booking_id))
            expired.append(booking)
        if expired or stale:
            self._store(expired, holds=stale)
        return len(expired)

    def _origin_correlation_id(self, booking_id: UUID) -> str:
        """The expiry belongs to the flow of the request that made the booking."""
        first = next(iter(self.events.get(booking_id, lte=1)), None)
        return getattr(first, "correlation_id", None) or new_id()

    def outbox_position(self) -> int:
        return self.booking_recorder.max_tracking_id(OUTBOX_RELAY_TRACKING) or 0


def stamp_correlation(aggregate: Aggregate, correlation_id: str) -> None:
    """Records the request's correlation id on each new event, for the outbox headers."""
    for pending in aggregate.pending_events:
        if getattr(pending, "correlation_id", None) is None:
            # Events are frozen dataclasses; this attribute is stored with their state.
            object.__setattr__(pending, "correlation_id", correlation_id)


def hold_changes_of(events: Iterable[object]) -> list[HoldChange]:
    changes: list[HoldChange] = []
    for stored in events:
        if isinstance(stored, Booking.Requested):
            changes.append(HoldChange(stored.originator_id, stored.hold_expires_at))
        elif type(stored).__qualname__ in _HOLD_ENDING_EVENTS:
            changes.append(HoldChange(getattr(stored, "originator_id"), None))  # noqa: B009
    return changes
