"""Apply one partition's batch of facts to the tickets, exactly once per offset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from entry.application.messages import FactBatch
from entry.application.ports import (
    CatalogTicketType,
    FactStore,
    FactsTransaction,
    PositionMoved,
)
from entry.domain.tickets import tickets_for, void_reason_for
from ticketing_contracts.events import (
    BookingCancelled,
    BookingConfirmed,
    EventCancelled,
    EventCreated,
    EventDetailsChanged,
    EventRescheduled,
    PaymentRefunded,
    PublicEvent,
    TicketTypeAdded,
)


@dataclass
class AppliedBatch:
    next_offset: int
    applied: int = 0
    issued: int = 0
    voided: int = 0
    occurred_at: list[datetime] = field(default_factory=list)


class ApplyFacts:
    """One PostgreSQL transaction per batch: its effects, then the partition's next offset.

    Every effect is idempotent as well (tickets are keyed by booking and position), so a
    batch read again after a broker recovery changes nothing."""

    def __init__(
        self, store: FactStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, batch: FactBatch) -> AppliedBatch:
        async with self._store.transaction() as tx:
            stored = await tx.stored_position(batch.topic, batch.partition)
            if not batch.continues(stored):
                raise PositionMoved(
                    f"{batch.topic}[{batch.partition}] is stored at {stored or 0}, "
                    f"not {batch.continues_from} where this batch was read from"
                )
            start = stored or 0
            result = AppliedBatch(next_offset=max(start, batch.next_offset))
            for message in batch.messages:
                if message.offset < start:
                    continue
                envelope, fact = message.body
                await self._apply(tx, fact, result)
                result.applied += 1
                result.occurred_at.append(envelope.occurred_at)
            await tx.record_position(batch.topic, batch.partition, result.next_offset)
        return result

    async def _apply(self, tx: FactsTransaction, fact: PublicEvent, result: AppliedBatch) -> None:
        match fact:
            case EventCreated():
                await tx.event_created(
                    fact.event_id,
                    fact.name,
                    fact.starts_at,
                    [CatalogTicketType(t.ticket_type_id, t.name) for t in fact.ticket_types],
                )
            case TicketTypeAdded():
                await tx.ticket_type_added(
                    fact.event_id,
                    CatalogTicketType(fact.ticket_type.ticket_type_id, fact.ticket_type.name),
                )
            case EventDetailsChanged():
                await tx.event_renamed(fact.event_id, fact.name)
            case EventRescheduled():
                await tx.event_rescheduled(fact.event_id, fact.starts_at)
            case EventCancelled():
                result.voided += await tx.event_cancelled(fact.event_id)
            case BookingConfirmed():
                cancelled = await tx.is_event_cancelled(fact.event_id)
                tickets = tickets_for(fact, event_cancelled=cancelled)
                result.issued += await tx.issue(fact.owner_id, tickets, self._clock())
            case BookingCancelled() | PaymentRefunded():
                reason = void_reason_for(fact)
                if reason is not None:
                    result.voided += await tx.void_booking(fact.booking_id, reason)
