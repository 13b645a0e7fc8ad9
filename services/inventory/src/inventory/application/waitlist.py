"""The waitlist's use cases: join, leave, decline an offer, and the offer step.

Each decides one show in one transaction under the show's lock, the lock holds and the
Kafka path's version check also take, with every open entry of the show's waitlists loaded:
so two replicas, a hold batch and a booking fact never decide the same tickets at once, and
nobody is offered tickets twice. A transaction that changed the line (a fan left or
declined) runs the offer step of its show before it commits; the step's own loop does the
rest (offers due, tickets that came back through holds, booking facts or catalog changes).
The offers made and ended are published through the outbox with the stock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from inventory.application.hold_tickets import utc_now
from inventory.application.ports import InventoryUnitOfWork, UnitOfWorkFactory
from inventory.application.process_batch import save_ledger_and_stock_facts
from inventory.domain.ledger import EntryNotFound, InventoryLedger, Joined
from inventory.domain.waitlist import (
    JoinRefused,
    JoinRequest,
    OfferMade,
    WaitlistEntry,
    position_of,
)


@dataclass(frozen=True)
class Place:
    """An entry and its place in line (None once it is not waiting)."""

    entry: WaitlistEntry
    position: int | None
    new: bool = False


@dataclass(frozen=True)
class OfferRound:
    shows: int = 0
    offers_made: int = 0
    offers_ended: int = 0
    more: bool = False


class Waitlist:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        offer_for: timedelta,
        outcome_topic: str,
        producer: str,
        round_size: int = 50,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._offer_for = offer_for
        self._outcome_topic = outcome_topic
        self._producer = producer
        self._round_size = round_size
        self._clock = clock

    async def join(self, request: JoinRequest) -> Place | JoinRefused:
        now = self._clock()
        async with self._unit_of_work() as uow:
            ledger = await self._load(uow, request.event_id)
            show = ledger.shows.get(request.event_id)
            if show is not None and show.has_purchase_limits:
                account = (request.event_id, request.owner_id)
                ledger.account_tickets.update(await uow.account_tickets([account]))
            joined = ledger.join_waitlist(request, entry_id=uuid4(), at=now)
            if isinstance(joined, JoinRefused):
                return joined
            await self._offer_and_save(uow, ledger, request.event_id, now, "waitlist-join")
        return self._place(ledger, joined)

    async def leave(self, entry_id: UUID, owner_id: str) -> WaitlistEntry:
        """Raises `EntryNotFound` for an entry that is not the owner's."""
        return await self._end(entry_id, owner_id, leave=True)

    async def decline(self, entry_id: UUID, owner_id: str) -> WaitlistEntry:
        """Raises `EntryNotFound`, or `NoOpenOffer`."""
        return await self._end(entry_id, owner_id, leave=False)

    async def make_offers(self) -> OfferRound:
        """One round of the offer step over the shows that have something to decide."""
        now = self._clock()
        async with self._unit_of_work() as uow:
            due = await uow.shows_due_for_offers(now, self._round_size)
        made = ended = 0
        for event_id in due:
            async with self._unit_of_work() as uow:
                ledger = await self._load(uow, event_id)
                ledger.make_offers(event_id, now=now, offer_for=self._offer_for)
                if not ledger.offer_facts:
                    continue
                await self._save(uow, ledger, now, "waitlist-offers")
                await uow.commit()
            offers = sum(1 for fact in ledger.offer_facts if isinstance(fact, OfferMade))
            made += offers
            ended += len(ledger.offer_facts) - offers
        return OfferRound(len(due), made, ended, more=len(due) >= self._round_size)

    async def _end(self, entry_id: UUID, owner_id: str, *, leave: bool) -> WaitlistEntry:
        now = self._clock()
        async with self._unit_of_work() as uow:
            found = await uow.entry(entry_id)
            if found is None or found.owner_id != owner_id:
                raise EntryNotFound(entry_id)
            ledger = await self._load(uow, found.event_id, also=found)
            if leave:
                entry = ledger.leave_waitlist(entry_id, owner_id, at=now)
            else:
                entry = ledger.decline_offer(entry_id, owner_id, at=now)
            await self._offer_and_save(uow, ledger, found.event_id, now, "waitlist-end")
        return entry

    async def _load(
        self, uow: InventoryUnitOfWork, event_id: UUID, *, also: WaitlistEntry | None = None
    ) -> InventoryLedger:
        shows = await uow.lock_shows([event_id])
        entries = await uow.open_entries([event_id])
        if also is not None and all(e.entry_id != also.entry_id for e in entries):
            entries.append(also)
        return InventoryLedger(shows, entries=entries, waitlists_of=[event_id])

    async def _offer_and_save(
        self,
        uow: InventoryUnitOfWork,
        ledger: InventoryLedger,
        event_id: UUID,
        now: datetime,
        correlation: str,
    ) -> None:
        ledger.make_offers(event_id, now=now, offer_for=self._offer_for)
        await self._save(uow, ledger, now, correlation)
        await uow.commit()

    async def _save(
        self, uow: InventoryUnitOfWork, ledger: InventoryLedger, now: datetime, correlation: str
    ) -> None:
        await save_ledger_and_stock_facts(
            uow,
            ledger,
            correlation_id=f"{correlation}-{uuid4()}",
            topic=self._outcome_topic,
            producer=self._producer,
            decided_at=now,
        )

    @staticmethod
    def _place(ledger: InventoryLedger, joined: Joined) -> Place:
        entries = ledger.open_entries_of(joined.entry.event_id)
        return Place(joined.entry, position_of(joined.entry, entries), joined.new)
