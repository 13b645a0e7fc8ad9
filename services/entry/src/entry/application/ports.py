"""What the use cases need from the outside world (adapters implement these)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from entry.domain.scans import TicketAtDoor
from entry.domain.tickets import NewTicket
from ticketing_contracts.tickets import (
    ParsedPayload,
    ScanAnswer,
    ScannerTicket,
    TicketStatus,
    TicketTypeProgress,
    VoidReason,
)


class PositionMoved(Exception):
    """The stored position is not where the batch was read from (a broker recovery or
    another replica moved it): the batch is read again from the stored position."""


@dataclass(frozen=True)
class CatalogTicketType:
    ticket_type_id: UUID
    name: str


class FactsTransaction(Protocol):
    """One batch's effects and its partition's next offset, committed together."""

    async def stored_position(self, topic: str, partition: int) -> int | None:
        """The partition's next offset (locked until commit; None: nothing applied yet)."""
        ...

    async def record_position(self, topic: str, partition: int, next_offset: int) -> None: ...

    async def event_created(
        self,
        event_id: UUID,
        name: str,
        starts_at: datetime,
        ticket_types: Sequence[CatalogTicketType],
    ) -> None: ...

    async def ticket_type_added(self, event_id: UUID, ticket_type: CatalogTicketType) -> None: ...

    async def event_renamed(self, event_id: UUID, name: str) -> None: ...

    async def event_rescheduled(self, event_id: UUID, starts_at: datetime) -> None: ...

    async def event_cancelled(self, event_id: UUID) -> int:
        """Marks the event cancelled and voids its tickets not checked in; how many."""
        ...

    async def is_event_cancelled(self, event_id: UUID) -> bool: ...

    async def issue(self, owner_id: str, tickets: Sequence[NewTicket], issued_at: datetime) -> int:
        """Stores the booking and its tickets unless stored already; how many are new."""
        ...

    async def void_booking(self, booking_id: UUID, reason: VoidReason) -> int:
        """Voids the booking's tickets that are still valid; how many."""
        ...


class FactStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[FactsTransaction]: ...


@dataclass(frozen=True)
class EventInfo:
    event_id: UUID
    name: str
    starts_at: datetime | None
    cancelled: bool


@dataclass(frozen=True)
class BookingInfo:
    booking_id: UUID
    event_id: UUID
    owner_id: str


@dataclass(frozen=True)
class StoredTicket:
    ticket_id: UUID
    booking_id: UUID
    event_id: UUID
    ticket_type_id: UUID
    ticket_type_name: str | None
    holder_name: str
    code: str
    status: TicketStatus
    issued_at: datetime
    checked_in_at: datetime | None
    entrance: str | None
    voided_reason: VoidReason | None


@dataclass(frozen=True)
class DoorLookup:
    """A scanned code as stored: its ticket, at the door, and the ticket's event."""

    event_id: UUID
    ticket: TicketAtDoor


class DoorTransaction(Protocol):
    """One scan (and, when synced, its record) in one transaction."""

    async def find_code(self, code: str) -> DoorLookup | None:
        """The ticket whose current or a retired code is `code`."""
        ...

    async def check_in(self, ticket_id: UUID, at: datetime, entrance: str) -> bool:
        """Checks the ticket in if it is valid and not checked in: exactly one of any
        number of concurrent calls for the same ticket gets True."""
        ...

    async def ticket_at_door(self, ticket_id: UUID) -> TicketAtDoor: ...

    async def claim_scan(self, scan_id: UUID, event_id: UUID) -> tuple[ScanAnswer, bool] | None:
        """The first answer (and conflict flag) of a scan synced before; None when it is
        new, which then holds the scan id until this transaction ends."""
        ...

    async def record_scan(self, scan_id: UUID, answer: ScanAnswer, conflict: bool) -> None: ...


class TicketStore(Protocol):
    async def event(self, event_id: UUID) -> EventInfo | None: ...

    async def booking(self, booking_id: UUID) -> BookingInfo | None: ...

    async def tickets_of_booking(self, booking_id: UUID) -> list[StoredTicket]: ...

    async def ticket(self, ticket_id: UUID) -> StoredTicket | None: ...

    async def replace_code(self, ticket_id: UUID, code: str, at: datetime) -> bool:
        """Gives a valid ticket a new code and retires the old one; False when the ticket
        is not valid (voided or checked in)."""
        ...

    def door(self) -> AbstractAsyncContextManager[DoorTransaction]: ...

    async def scanner_tickets(self, event_id: UUID) -> list[ScannerTicket]:
        """Every ticket of the event and every retired code (as voided)."""
        ...

    async def progress(self, event_id: UUID) -> list[TicketTypeProgress]: ...

    async def is_door_staff(self, event_id: UUID, user_id: str) -> bool: ...

    async def assign_door_staff(self, event_id: UUID, user_id: str, assigned_by: str) -> None: ...

    async def remove_door_staff(self, event_id: UUID, user_id: str) -> None: ...

    async def door_staff(self, event_id: UUID) -> list[str]: ...


class TicketSigner(Protocol):
    def public_key(self, event_id: UUID) -> str: ...

    def payload(self, event_id: UUID, code: str) -> str: ...

    def verifies(self, parsed: ParsedPayload) -> bool: ...
