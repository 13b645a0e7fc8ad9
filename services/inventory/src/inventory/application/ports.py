"""What the use cases need from storage and from the catalog reader."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from inventory.application.messages import MessagePosition, OutgoingMessage, ProcessedMessage
from inventory.domain.bookings import BookingRecord
from inventory.domain.sale import AccountKey
from inventory.domain.stock import ShowInventory
from inventory.domain.waitlist import WaitlistEntry


class InventoryUnitOfWork(Protocol):
    """One database transaction; leaving the block without `commit()` rolls it back."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def processed(
        self, positions: Sequence[MessagePosition], message_ids: Sequence[UUID]
    ) -> tuple[set[MessagePosition], set[UUID]]:
        """Which of these positions and envelope ids were processed before."""
        ...

    async def load_shows(self, event_ids: Sequence[UUID]) -> list[ShowInventory]: ...

    async def lock_shows(self, event_ids: Sequence[UUID]) -> list[ShowInventory]:
        """Loads the shows like `load_shows`, locked until the transaction ends.

        Locks are taken in event id order, so writers that lock several shows never
        deadlock each other, and a writer that only reads (the Kafka path) finds the
        show's version moved when it saves and decides again.
        """
        ...

    async def load_bookings(self, booking_ids: Sequence[UUID]) -> list[BookingRecord]: ...

    async def account_tickets(
        self, accounts: Sequence[AccountKey]
    ) -> dict[AccountKey, dict[UUID, int]]:
        """Per (event, owner) asked, the tickets its bookings hold or bought (reserved or
        sold), per ticket type; every account asked is in the answer (an empty dict: none).
        Read like the stock: under the shows' locks, or guarded by their versions."""
        ...

    async def unclaimed_holds(self, due_by: datetime, limit: int) -> list[BookingRecord]:
        """Holds made over HTTP still waiting for their claim whose deadline is at or
        before `due_by`, earliest deadline first."""
        ...

    async def open_entries(self, event_ids: Sequence[UUID]) -> list[WaitlistEntry]:
        """Every waiting or offered waitlist entry of these shows; read under their locks."""
        ...

    async def entries_by_offer(self, offer_ids: Sequence[UUID]) -> list[WaitlistEntry]: ...

    async def entry(self, entry_id: UUID) -> WaitlistEntry | None: ...

    async def shows_due_for_offers(self, now: datetime, limit: int) -> list[UUID]:
        """Shows with an offer due by `now`, or a ticket type with waiting entries and free
        tickets: where the offer step has something to decide."""
        ...

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
        """Writes the changes; raises `ConcurrencyConflict` if another writer got there first."""
        ...

    async def record_processed(self, messages: Sequence[ProcessedMessage]) -> None:
        """Raises `ConcurrencyConflict` if one of them was recorded concurrently."""
        ...

    async def record_next_offset(
        self, position: MessagePosition, *, continues_from: int | None = None
    ) -> None:
        """Where the partition continues. Raises `PositionMoved` when the stored position is
        not `continues_from` (None: no check), so a batch read at stale positions stores
        nothing."""
        ...

    async def add_to_outbox(self, messages: Sequence[OutgoingMessage]) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> InventoryUnitOfWork: ...


class CatalogProgress(Protocol):
    async def wait_until_caught_up(self) -> None:
        """Returns once every catalog message published so far has been applied.

        Raises `CatalogNotCaughtUp` when that does not happen within its bound.
        """
        ...


class BookingDirectory(Protocol):
    async def known(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these bookings booking-command stores.

        Raises when it cannot tell (it did not answer, or refused the call): then no
        hold may be released.
        """
        ...
