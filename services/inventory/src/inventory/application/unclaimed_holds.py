"""Releases holds made over HTTP that no stored booking claimed in time.

booking-command stores a booking after inventory held its tickets, and inventory learns
it from the booking's fact (the claim). A hold whose claim has not come by its deadline
is released only once booking-command says it does not store the booking: a booking it
stores keeps its hold however late its fact is, and while booking-command cannot be
asked nothing is released. A released booking stays as a tombstone, so a late retry of
its hold is refused (`hold_released`). A round publishes one stock fact per ticket type
it released tickets of.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from inventory.application.hold_tickets import utc_now
from inventory.application.ports import BookingDirectory, UnitOfWorkFactory
from inventory.application.process_batch import save_ledger_and_stock_facts
from inventory.domain.bookings import BookingRecord
from inventory.domain.ledger import InventoryLedger
from inventory.domain.outcomes import TicketsReleased


@dataclass(frozen=True)
class SweepResult:
    due: int = 0
    released: int = 0
    claimed: int = 0
    """Stored in booking-command: their facts are on the way, the holds stay."""
    more: bool = False
    """A full round: more may be due at once."""


class ReleaseUnclaimedHolds:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        directory: BookingDirectory,
        *,
        batch_size: int,
        outcome_topic: str,
        producer: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._directory = directory
        self._batch_size = batch_size
        self._outcome_topic = outcome_topic
        self._producer = producer
        self._clock = clock

    async def __call__(self) -> SweepResult:
        """One round: the holds due now, booking-command's answer about them, then one
        transaction. Raises (releasing nothing) when booking-command does not answer."""
        now = self._clock()
        async with self._unit_of_work() as uow:
            due = await uow.unclaimed_holds(now, self._batch_size)
        if not due:
            return SweepResult()
        stored = await self._directory.known([booking.booking_id for booking in due])
        released = await self._settle(due, stored, now)
        return SweepResult(
            due=len(due),
            released=len(released),
            claimed=len(stored),
            more=len(due) >= self._batch_size,
        )

    async def _settle(
        self, due: list[BookingRecord], stored: set[UUID], now: datetime
    ) -> list[TicketsReleased]:
        booking_ids = sorted(booking.booking_id for booking in due)
        async with self._unit_of_work() as uow:
            shows = await uow.lock_shows(sorted({booking.event_id for booking in due}))
            # Read again under the locks: a fact consumed meanwhile may have claimed one.
            ledger = InventoryLedger(shows, await uow.load_bookings(booking_ids))
            released = []
            for booking_id in booking_ids:
                if booking_id in stored:
                    ledger.claim(booking_id)
                elif (outcome := ledger.release_unclaimed(booking_id, now=now)) is not None:
                    released.append(outcome)
            correlation_id = f"unclaimed-holds-{uuid4()}"
            await save_ledger_and_stock_facts(
                uow,
                ledger,
                correlation_id=correlation_id,
                topic=self._outcome_topic,
                producer=self._producer,
                decided_at=now,
            )
            await uow.commit()
        return released
