"""The sender's use case: one due notice, rendered, sent once, and its row marked.

A notice is sent at least once and, but for one window, at most once: its row is held
(`FOR UPDATE SKIP LOCKED`) from before the send until the commit that marks it sent, so
no two senders send it. A crash after the relay accepted the mail and before that commit
sends it again, with the same Message-ID (derived from the fact), which mail clients and
relays use to recognise the copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from notifications.application.ports import (
    Attachment,
    DueNotice,
    Mail,
    MailRejected,
    MailTemplates,
    MailTransport,
    MailUnavailable,
    NoticeQueue,
    NoValidTickets,
    TicketsNotIssued,
    TicketsPdf,
    TicketsUnavailable,
)
from notifications.domain.attempts import gives_up, message_id, next_attempt_at
from notifications.domain.notices import NoticeKind, minutes_between


class Outcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Attempted:
    kind: NoticeKind
    outcome: Outcome
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    initial_seconds: float
    max_seconds: float
    max_attempts: int


class _NotYet(Exception):
    """The mail cannot be written yet (a fact it needs has not arrived)."""


class SendDueNotice:
    def __init__(
        self,
        queue: NoticeQueue,
        tickets: TicketsPdf,
        transport: MailTransport,
        templates: MailTemplates,
        *,
        retry: RetryPolicy,
        mail_domain: str,
        shop_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._queue = queue
        self._tickets = tickets
        self._transport = transport
        self._templates = templates
        self._retry = retry
        self._domain = mail_domain
        self._shop_url = shop_url.rstrip("/")
        self._clock = clock

    async def __call__(self) -> Attempted | None:
        """Sends the oldest due notice no other sender holds; None when none is due."""
        async with self._queue.claim_due() as claimed:
            if claimed is None:
                return None
            due = claimed.due
            kind = due.notice.kind
            attempts = due.attempts + 1
            try:
                mail = await self._mail(due)
                await self._transport.send(mail)
            except NoValidTickets:
                reason = "every ticket was voided before the confirmation went"
                await claimed.supersede(reason)
                return Attempted(kind, Outcome.SUPERSEDED, reason)
            except MailRejected as refused:
                await claimed.fail(f"the relay refused it: {refused}", attempts)
                return Attempted(kind, Outcome.FAILED, str(refused))
            except (_NotYet, TicketsNotIssued, TicketsUnavailable, MailUnavailable) as error:
                text = f"{type(error).__name__}: {error}"
                if gives_up(attempts, self._retry.max_attempts):
                    await claimed.fail(text, attempts)
                    return Attempted(kind, Outcome.FAILED, text)
                until = next_attempt_at(
                    self._clock(),
                    attempts,
                    initial_seconds=self._retry.initial_seconds,
                    max_seconds=self._retry.max_seconds,
                )
                await claimed.defer(text, attempts, until)
                return Attempted(kind, Outcome.DEFERRED, text)
            await claimed.sent(mail.message_id, self._clock())
            return Attempted(kind, Outcome.SENT)

    async def _mail(self, due: DueNotice) -> Mail:
        if due.notice.offer_id is not None:
            return self._offer_mail(due)
        notice, customer, event = due.notice, due.customer, due.event
        if customer is None or notice.booking_id is None:
            raise _NotYet(f"booking {notice.booking_id}'s customer is not known yet")
        if event is None or event.name is None:
            raise _NotYet(f"event {customer.event_id} is not known yet (catalog behind)")
        attachments: list[Attachment] = []
        if notice.kind is NoticeKind.CONFIRMATION:
            pdf = await self._tickets.fetch(notice.booking_id)
            attachments.append(Attachment("tickets.pdf", "application/pdf", pdf))
        context: dict[str, object] = {
            "customer_name": customer.name,
            "event_name": event.name,
            "event_starts_at": event.starts_at,
            "ticket_type_name": event.ticket_types.get(customer.ticket_type_id),
            "quantity": customer.quantity,
            "total_price": customer.total_price,
            "currency": customer.currency,
            "booking_id": str(notice.booking_id),
            "booking_url": f"{self._shop_url}/#/booking/{notice.booking_id}",
            "bookings_url": f"{self._shop_url}/#/bookings",
            "event_url": f"{self._shop_url}/#/event/{customer.event_id}",
            **notice.details,
        }
        return self._rendered(due, customer.name, customer.email, context, attachments)

    def _offer_mail(self, due: DueNotice) -> Mail:
        notice, offer, event = due.notice, due.offer, due.event
        if offer is None:
            raise _NotYet(f"offer {notice.offer_id} is not known yet")
        if event is None or event.name is None:
            raise _NotYet(f"event {offer.event_id} is not known yet (catalog behind)")
        context: dict[str, object] = {
            "customer_name": offer.name,
            "event_name": event.name,
            "event_starts_at": event.starts_at,
            "ticket_type_name": event.ticket_types.get(offer.ticket_type_id),
            "quantity": offer.quantity,
            "expires_at": offer.expires_at,
            "minutes_left": minutes_between(self._clock(), offer.expires_at),
            "offer_url": f"{self._shop_url}/offers/{offer.offer_id}",
            "event_url": f"{self._shop_url}/#/event/{offer.event_id}",
            "waitlist_url": f"{self._shop_url}/#/waitlist",
        }
        return self._rendered(due, offer.name, offer.email, context, [])

    def _rendered(
        self,
        due: DueNotice,
        name: str,
        address: str,
        context: dict[str, object],
        attachments: list[Attachment],
    ) -> Mail:
        rendered = self._templates.render(due.notice.kind.value, context)
        return Mail(
            to_name=name,
            to_address=address,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=message_id(str(due.notice.fact_id), self._domain),
            attachments=attachments,
        )
