"""What the use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from notifications.domain.notices import (
    Customer,
    EventDetails,
    Notice,
    NoticeKind,
    WaitlistOffer,
)


class PositionMoved(Exception):
    """The partition's stored position is not where the batch was read from."""


@dataclass(frozen=True)
class FactsToRecord:
    """One partition batch's effects, stored in one transaction with its next offset."""

    topic: str
    partition: int
    next_offset: int
    continues_from: int | None
    customers: Sequence[Customer] = ()
    events: Sequence[EventDetails] = ()
    offers: Sequence[WaitlistOffer] = ()
    notices: Sequence[Notice] = ()


class FactStore(Protocol):
    async def record(self, facts: FactsToRecord) -> list[NoticeKind]:
        """Stores everything in one transaction; returns the kinds of the notices new to
        the outbox (a fact seen before adds none). Raises PositionMoved."""
        ...


@dataclass(frozen=True)
class DueNotice:
    """An outbox row with what its mail needs, as stored when it was claimed."""

    notice: Notice
    attempts: int
    customer: Customer | None
    event: EventDetails | None
    offer: WaitlistOffer | None = None


class ClaimedNotice(Protocol):
    """A row held for this sender alone until the claim ends (then committed)."""

    due: DueNotice

    async def sent(self, message_id: str, at: datetime) -> None: ...

    async def defer(self, error: str, attempts: int, until: datetime) -> None: ...

    async def fail(self, error: str, attempts: int) -> None: ...

    async def supersede(self, reason: str) -> None: ...


class NoticeQueue(Protocol):
    def claim_due(self) -> AbstractAsyncContextManager[ClaimedNotice | None]:
        """The oldest due pending row not held by another sender, or None."""
        ...


class TicketsNotIssued(Exception):
    """entry has not issued the booking's tickets yet (it is behind the booking topic)."""


class NoValidTickets(Exception):
    """Every ticket of the booking was voided (cancelled, refunded) before the mail went."""


class TicketsUnavailable(Exception):
    """entry did not answer, or refused the question (our token, its breaker)."""


class TicketsPdf(Protocol):
    async def fetch(self, booking_id: UUID) -> bytes: ...


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Mail:
    to_name: str
    to_address: str
    subject: str
    text: str
    html: str
    message_id: str
    attachments: Sequence[Attachment] = field(default_factory=tuple)


class MailRejected(Exception):
    """The relay refused the mail for good (5xx for its recipient or content)."""


class MailUnavailable(Exception):
    """The relay could not be reached or answered a transient failure (4xx, timeout)."""


class MailTransport(Protocol):
    async def send(self, mail: Mail) -> None: ...


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class MailTemplates(Protocol):
    def render(self, kind: str, context: dict[str, object]) -> RenderedMail: ...
