"""Answers booking-command's question before it stores a lower quantity or a removal.

The answer is decided under the show's lock like every hold: a lower quantity that is not
below the tickets sold, held or offered is applied at once, so no hold or offer can take
the tickets between the answer and booking-command storing the change; a removal only of a
ticket type nothing of is sold, held or offered (its open waitlist entries end `cancelled`).
Asked again, the same change is answered the same while nothing else moved the stock. Should
booking-command not store the change after all (it crashed), inventory keeps the lower
quantity: the safe side, the organiser asks again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import uuid4

from inventory.application.hold_tickets import utc_now
from inventory.application.ports import UnitOfWorkFactory
from inventory.application.process_batch import save_ledger_and_stock_facts
from inventory.domain.ledger import InventoryLedger
from inventory.domain.waitlist import TicketTypeChange, TicketTypeChangeAnswer


class UnknownTicketType(LookupError):
    pass


class AnswerTicketTypeChange:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        outcome_topic: str,
        producer: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._outcome_topic = outcome_topic
        self._producer = producer
        self._clock = clock

    async def __call__(self, change: TicketTypeChange) -> TicketTypeChangeAnswer:
        """Raises `UnknownTicketType` when inventory does not know (or removed) it."""
        now = self._clock()
        async with self._unit_of_work() as uow:
            shows = await uow.lock_shows([change.event_id])
            entries = await uow.open_entries([change.event_id])
            ledger = InventoryLedger(shows, entries=entries, waitlists_of=[change.event_id])
            try:
                answer = ledger.answer_change(change, at=now)
            except KeyError as unknown:
                raise UnknownTicketType(change.ticket_type_id) from unknown
            await save_ledger_and_stock_facts(
                uow,
                ledger,
                correlation_id=f"ticket-type-change-{uuid4()}",
                topic=self._outcome_topic,
                producer=self._producer,
                decided_at=now,
            )
            await uow.commit()
        return answer
