"""Gives back the tickets of bookings booking-command's event store does not hold.

After booking-command's event store is restored from a backup, inventory still holds or
has sold the tickets of the bookings made after that backup. Its reconciliation asks
inventory to release them; inventory releases only those booking-command says it does not
store (the same question the unclaimed-hold sweeper asks, which makes the answer final),
in one transaction with one stock fact per ticket type it gave tickets back to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from inventory.application.hold_tickets import utc_now
from inventory.application.ports import BookingDirectory, UnitOfWorkFactory
from inventory.application.process_batch import save_ledger_and_stock_facts
from inventory.domain.ledger import InventoryLedger


@dataclass(frozen=True)
class NotStoredReleases:
    released: list[UUID]
    stored: list[UUID]
    """booking-command stores these: nothing released."""
    taking_no_tickets: list[UUID]


class ReleaseBookingsNotStored:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        directory: BookingDirectory,
        *,
        outcome_topic: str,
        producer: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._directory = directory
        self._outcome_topic = outcome_topic
        self._producer = producer
        self._clock = clock

    async def __call__(self, booking_ids: Sequence[UUID]) -> NotStoredReleases:
        """Raises (releasing nothing) when booking-command does not answer."""
        asked = sorted(set(booking_ids))
        stored = await self._directory.known(asked)
        candidates = [booking_id for booking_id in asked if booking_id not in stored]
        released: list[UUID] = []
        if candidates:
            async with self._unit_of_work() as uow:
                bookings = await uow.load_bookings(candidates)
                shows = await uow.lock_shows(sorted({booking.event_id for booking in bookings}))
                # Read again under the locks: what a concurrent batch decided counts.
                ledger = InventoryLedger(shows, await uow.load_bookings(candidates))
                for booking_id in candidates:
                    if ledger.release_not_stored(booking_id) is not None:
                        released.append(booking_id)
                correlation_id = f"reconciliation-{uuid4()}"
                now = self._clock()
                await save_ledger_and_stock_facts(
                    uow,
                    ledger,
                    correlation_id=correlation_id,
                    topic=self._outcome_topic,
                    producer=self._producer,
                    decided_at=now,
                )
                await uow.commit()
        return NotStoredReleases(
            released=released,
            stored=[booking_id for booking_id in asked if booking_id in stored],
            taking_no_tickets=[b for b in candidates if b not in set(released)],
        )
