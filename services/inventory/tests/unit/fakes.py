from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from inventory.application.errors import PositionMoved
from inventory.application.messages import MessagePosition, OutgoingMessage, ProcessedMessage
from inventory.domain.bookings import BookingRecord
from inventory.domain.sale import AccountKey
from inventory.domain.stock import ShowInventory
from inventory.domain.waitlist import WaitlistEntry


@dataclass
class FakeStore:
    shows: dict[UUID, ShowInventory] = field(default_factory=dict)
    bookings: dict[UUID, BookingRecord] = field(default_factory=dict)
    processed: dict[MessagePosition, ProcessedMessage] = field(default_factory=dict)
    outbox: list[OutgoingMessage] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    entries: dict[UUID, WaitlistEntry] = field(default_factory=dict)
    commits: int = 0


class FakeUnitOfWork:
    """Stages writes and applies them to the store on commit only."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.staged = FakeStore()

    async def __aenter__(self) -> Self:
        self.staged = copy.deepcopy(self.store)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def processed(
        self, positions: Sequence[MessagePosition], message_ids: Sequence[UUID]
    ) -> tuple[set[MessagePosition], set[UUID]]:
        known = self.store.processed
        ids = {m.message_id for m in known.values() if m.message_id is not None}
        return {p for p in positions if p in known}, {i for i in message_ids if i in ids}

    async def load_shows(self, event_ids: Sequence[UUID]) -> list[ShowInventory]:
        return [copy.deepcopy(self.store.shows[i]) for i in event_ids if i in self.store.shows]

    async def lock_shows(self, event_ids: Sequence[UUID]) -> list[ShowInventory]:
        return await self.load_shows(event_ids)

    async def load_bookings(self, booking_ids: Sequence[UUID]) -> list[BookingRecord]:
        return [
            copy.deepcopy(self.store.bookings[i]) for i in booking_ids if i in self.store.bookings
        ]

    async def account_tickets(
        self, accounts: Sequence[AccountKey]
    ) -> dict[AccountKey, dict[UUID, int]]:
        tickets: dict[AccountKey, dict[UUID, int]] = {account: {} for account in accounts}
        for booking in self.store.bookings.values():
            account = (booking.event_id, booking.owner_id or "")
            if booking.owner_id is not None and booking.takes_tickets and account in tickets:
                held = tickets[account]
                held[booking.ticket_type_id] = (
                    held.get(booking.ticket_type_id, 0) + booking.quantity
                )
        return tickets

    async def unclaimed_holds(self, due_by: datetime, limit: int) -> list[BookingRecord]:
        due = [
            copy.deepcopy(booking)
            for booking in self.store.bookings.values()
            if booking.awaits_claim and booking.claim_by is not None and booking.claim_by <= due_by
        ]
        return sorted(due, key=lambda booking: booking.claim_by or due_by)[:limit]

    async def open_entries(self, event_ids: Sequence[UUID]) -> list[WaitlistEntry]:
        return [
            copy.deepcopy(e)
            for e in self.store.entries.values()
            if e.event_id in event_ids and e.is_open
        ]

    async def entries_by_offer(self, offer_ids: Sequence[UUID]) -> list[WaitlistEntry]:
        return [copy.deepcopy(e) for e in self.store.entries.values() if e.offer_id in offer_ids]

    async def entry(self, entry_id: UUID) -> WaitlistEntry | None:
        return copy.deepcopy(self.store.entries.get(entry_id))

    async def shows_due_for_offers(self, now: datetime, limit: int) -> list[UUID]:
        due = set()
        for e in self.store.entries.values():
            stock = self.store.shows[e.event_id].ticket_types[e.ticket_type_id]
            if e.offer_is_due(now) or (
                e.is_waiting
                and not stock.sales_closed
                and not stock.removed
                and stock.free >= e.quantity
            ):
                due.add(e.event_id)
        return sorted(due)[:limit]

    async def save(
        self,
        *,
        new_shows: Sequence[ShowInventory],
        changed_shows: Sequence[ShowInventory],
        new_bookings: Sequence[BookingRecord],
        changed_bookings: Sequence[BookingRecord],
        new_entries: Sequence[WaitlistEntry] = (),
        changed_entries: Sequence[WaitlistEntry] = (),
    ) -> None:
        for show in (*new_shows, *changed_shows):
            self.staged.shows[show.event_id] = copy.deepcopy(show)
        for booking in (*new_bookings, *changed_bookings):
            self.staged.bookings[booking.booking_id] = copy.deepcopy(booking)
        for entry in (*new_entries, *changed_entries):
            self.staged.entries[entry.entry_id] = copy.deepcopy(entry)

    async def record_processed(self, messages: Sequence[ProcessedMessage]) -> None:
        for message in messages:
            assert message.position not in self.staged.processed
            self.staged.processed[message.position] = message

    async def record_next_offset(
        self, position: MessagePosition, *, continues_from: int | None = None
    ) -> None:
        key = (position.topic, position.partition)
        stored = self.staged.next_offsets.get(key, 0)
        if continues_from is not None and continues_from != stored:
            raise PositionMoved(f"stored at {stored}, not {continues_from}")
        self.staged.next_offsets[key] = max(stored, position.offset)

    async def add_to_outbox(self, messages: Sequence[OutgoingMessage]) -> None:
        self.staged.outbox.extend(messages)

    async def commit(self) -> None:
        self.staged.commits = self.store.commits + 1
        self.store.__dict__.update(self.staged.__dict__)


@dataclass
class FakeCatalog:
    waits: int = 0

    async def wait_until_caught_up(self) -> None:
        self.waits += 1


@dataclass
class FakeBookingDirectory:
    """booking-command's answer: the ids it stores, or an error when it does not answer."""

    stored: set[UUID] = field(default_factory=set)
    failure: Exception | None = None
    asked: list[list[UUID]] = field(default_factory=list)

    async def known(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        self.asked.append(list(booking_ids))
        if self.failure is not None:
            raise self.failure
        return self.stored & set(booking_ids)
