"""Decides a batch of holds asked for over HTTP in one transaction.

booking-command's group commit asks before it stores the bookings. The holds are
decided by the ledger's rules for booking facts; the shows they touch are locked first,
so batches, replicas and the Kafka path never decide the same stock at once. A booking
id seen before gets its first answer again and changes nothing: a retry after a timeout
never holds twice; only a refusal that depends on the time (`not_on_sale`) or on the
account's other bookings (`purchase_limit_reached`) is not remembered, so the same id is
decided again later. Purchase limits count the account's tickets as stored, read under the
shows' locks like the stock. A hold lasts the event's `hold_minutes` (else the service's
HOLD_SECONDS). A hold that names a waitlist offer takes up the offer's tickets (read under
the same locks, so an offer is taken once and never after it ended). The batch publishes
one stock fact per ticket type it held tickets of, with the stock after all its holds, and
the offers it took up as ended `accepted`; a refusal is answered to its caller, not
published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from inventory.application.errors import ConcurrencyConflict
from inventory.application.ports import CatalogProgress, UnitOfWorkFactory
from inventory.application.process_batch import save_ledger_and_stock_facts
from inventory.domain.holds import HoldAnswer, answer_again, refused
from inventory.domain.ledger import InventoryLedger
from inventory.domain.outcomes import (
    CATALOG_DEPENDENT_REJECTIONS,
    BookingLine,
    ReservationRejected,
    TicketsReserved,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class HoldBatchResult:
    answers: list[HoldAnswer]
    """One per request, in request order."""
    decided: list[TicketsReserved | ReservationRejected] = field(default_factory=list)
    """What this call decided (bookings seen before are not in it)."""
    waited_for_catalog: bool = False


class _NeedsCatalog(Exception):
    pass


class HoldTickets:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        catalog: CatalogProgress,
        *,
        hold_for: timedelta,
        claim_within: timedelta,
        outcome_topic: str,
        producer: str,
        clock: Callable[[], datetime] = utc_now,
        attempts: int = 3,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._catalog = catalog
        self._hold_for = hold_for
        self._claim_within = claim_within
        self._outcome_topic = outcome_topic
        self._producer = producer
        self._clock = clock
        self._attempts = attempts

    async def __call__(
        self, requests: Sequence[BookingLine], *, correlation_id: str
    ) -> HoldBatchResult:
        try:
            return await self._decide_and_store(requests, correlation_id, catalog_confirmed=False)
        except _NeedsCatalog:
            # As for booking facts: "not in the catalog" may be the catalog reader lagging.
            await self._catalog.wait_until_caught_up()
            result = await self._decide_and_store(requests, correlation_id, catalog_confirmed=True)
            return HoldBatchResult(result.answers, result.decided, waited_for_catalog=True)

    async def _decide_and_store(
        self, requests: Sequence[BookingLine], correlation_id: str, *, catalog_confirmed: bool
    ) -> HoldBatchResult:
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._decide_once(requests, correlation_id, catalog_confirmed)
            except ConcurrencyConflict:
                # The same booking id inserted by a concurrent call (a retry racing its
                # original): the next attempt reads it and answers it again.
                if attempt == self._attempts:
                    raise
        raise AssertionError("unreachable")

    async def _decide_once(
        self, requests: Sequence[BookingLine], correlation_id: str, catalog_confirmed: bool
    ) -> HoldBatchResult:
        now = self._clock()
        claim_by = now + self._claim_within
        async with self._unit_of_work() as uow:
            # Shows first: bookings (and the accounts' tickets) read after the lock see every
            # batch that held it before.
            shows = await uow.lock_shows(sorted({line.event_id for line in requests}))
            bookings = await uow.load_bookings(sorted({line.booking_id for line in requests}))
            known = {booking.booking_id for booking in bookings}
            limited = {show.event_id for show in shows if show.has_purchase_limits}
            accounts = {
                (line.event_id, line.owner_id)
                for line in requests
                if line.event_id in limited
                and line.owner_id is not None
                and line.booking_id not in known
            }
            account_tickets = await uow.account_tickets(sorted(accounts)) if accounts else {}
            offer_ids = sorted({line.offer_id for line in requests if line.offer_id is not None})
            entries = await uow.entries_by_offer(offer_ids) if offer_ids else []
            ledger = InventoryLedger(shows, bookings, account_tickets, entries=entries)
            windows = {show.event_id: show.windows for show in shows}
            decided: list[TicketsReserved | ReservationRejected] = []
            unremembered: dict[UUID, HoldAnswer] = {}
            for line in requests:
                window = windows.get(line.event_id)
                hold_for = window.hold_for(self._hold_for) if window else self._hold_for
                outcome = ledger.hold(line, at=now, expires_at=now + hold_for, claim_by=claim_by)
                if outcome is None:
                    continue
                if (
                    not catalog_confirmed
                    and isinstance(outcome, ReservationRejected)
                    and outcome.reason in CATALOG_DEPENDENT_REJECTIONS
                ):
                    raise _NeedsCatalog
                decided.append(outcome)
                if line.booking_id not in ledger.bookings:
                    assert isinstance(outcome, ReservationRejected)
                    unremembered[line.booking_id] = refused(outcome)
            await save_ledger_and_stock_facts(
                uow,
                ledger,
                correlation_id=correlation_id,
                topic=self._outcome_topic,
                producer=self._producer,
                decided_at=now,
            )
            await uow.commit()
        answers = [
            unremembered.get(line.booking_id) or answer_again(ledger.bookings[line.booking_id])
            for line in requests
        ]
        return HoldBatchResult(answers, decided)
