"""The sender's decisions, on fakes: what is sent, retried, given up on or superseded."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from notifications.adapters.templates import JinjaMailTemplates
from notifications.application.ports import (
    DueNotice,
    Mail,
    MailRejected,
    MailUnavailable,
    NoValidTickets,
    TicketsNotIssued,
)
from notifications.application.send_notices import Outcome, RetryPolicy, SendDueNotice
from notifications.domain.notices import EventDetails, customer_from, notice_for, offer_from
from ticketing_contracts.events.inventory import OfferEnd

from ..facts import STARTS_AT, Booking, Offer

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class Row:
    def __init__(self, due: DueNotice) -> None:
        self.due = due
        self.marked: tuple[object, ...] | None = None

    async def sent(self, message_id, at):
        self.marked = ("sent", message_id)

    async def defer(self, error, attempts, until):
        self.marked = ("deferred", attempts, until)

    async def fail(self, error, attempts):
        self.marked = ("failed", attempts)

    async def supersede(self, reason):
        self.marked = ("superseded",)


class Queue:
    def __init__(self, row: Row | None) -> None:
        self.row = row

    @asynccontextmanager
    async def claim_due(self):
        yield self.row


class Tickets:
    def __init__(self, answer: bytes | Exception) -> None:
        self.answer = answer

    async def fetch(self, booking_id):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Relay:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(mail)


def due(fact, *, attempts: int = 0, event_known: bool = True) -> Row:
    booking = Booking()
    notice = notice_for(uuid4(), NOW, fact(booking))
    assert notice is not None
    event = (
        EventDetails(
            booking.event_id, "Jazz Night", STARTS_AT, {booking.ticket_type_id: "Standing"}
        )
        if event_known
        else None
    )
    return Row(DueNotice(notice, attempts, customer_from(booking.confirmed()), event))


def outcome(expected: Outcome):
    """Whatever kind and error, an attempt that came to `expected`."""

    class Matches:
        def __eq__(self, attempted: object) -> bool:
            return getattr(attempted, "outcome", None) is expected

    return Matches()


def sender(row: Row | None, tickets=b"%PDF", relay: Relay | None = None, max_attempts: int = 5):
    return SendDueNotice(
        Queue(row),
        Tickets(tickets),
        relay or Relay(),
        JinjaMailTemplates(),
        retry=RetryPolicy(initial_seconds=5, max_seconds=60, max_attempts=max_attempts),
        mail_domain="example.test",
        shop_url="http://shop.test/",
        clock=lambda: NOW,
    )


async def test_a_confirmation_goes_to_the_customer_with_the_tickets_attached() -> None:
    row, relay = due(Booking.confirmed), Relay()

    attempted = await sender(row, relay=relay)()

    assert attempted == outcome(Outcome.SENT)
    (mail,) = relay.sent
    assert (mail.to_name, mail.to_address) == ("Ada Lovelace", "ada@example.test")
    assert mail.message_id == f"<{row.due.notice.fact_id}@notifications.example.test>"
    assert [(a.filename, a.content) for a in mail.attachments] == [("tickets.pdf", b"%PDF")]
    assert row.marked == ("sent", mail.message_id)


async def test_other_notices_carry_no_attachment() -> None:
    relay = Relay()
    await sender(due(Booking.refunded), relay=relay)()
    assert relay.sent[0].attachments == []


async def test_tickets_not_issued_yet_retry_later_with_backoff() -> None:
    row = due(Booking.confirmed, attempts=2)

    attempted = await sender(row, tickets=TicketsNotIssued("behind"))()

    assert attempted == outcome(Outcome.DEFERRED)
    assert row.marked == ("deferred", 3, NOW + timedelta(seconds=20))


async def test_an_unknown_event_waits_for_the_catalog() -> None:
    row = due(Booking.cancelled, event_known=False)
    attempted = await sender(row)()
    assert attempted == outcome(Outcome.DEFERRED)


async def test_a_relay_that_is_down_is_retried_until_the_attempts_run_out() -> None:
    row = due(Booking.cancelled, attempts=4)

    attempted = await sender(row, relay=Relay(MailUnavailable("connection refused")))()

    assert attempted == outcome(Outcome.FAILED)
    assert row.marked == ("failed", 5)


async def test_a_mail_the_relay_refuses_for_good_fails_at_once() -> None:
    row = due(Booking.cancelled)
    attempted = await sender(row, relay=Relay(MailRejected("550 no such user")))()
    assert attempted == outcome(Outcome.FAILED)
    assert row.marked == ("failed", 1)


async def test_a_confirmation_whose_tickets_were_all_voided_is_superseded() -> None:
    row, relay = due(Booking.confirmed), Relay()
    attempted = await sender(row, tickets=NoValidTickets("all voided"), relay=relay)()
    assert attempted == outcome(Outcome.SUPERSEDED)
    assert relay.sent == []


async def test_nothing_due_is_nothing_done() -> None:
    assert await sender(None)() is None


def offer_due(fact, *, offer_known: bool = True) -> tuple[Row, Offer]:
    booking = Booking()
    offer = Offer(booking, expires_at=NOW + timedelta(minutes=15))
    notice = notice_for(uuid4(), NOW, fact(offer))
    assert notice is not None
    event = EventDetails(
        booking.event_id, "Jazz Night", STARTS_AT, {booking.ticket_type_id: "Standing"}
    )
    remembered = offer_from(offer.made()) if offer_known else None
    return Row(DueNotice(notice, 0, None, event, remembered)), offer


async def test_an_offer_goes_to_the_fan_on_the_waitlist_with_a_link_that_books_it() -> None:
    (row, offer), relay = offer_due(Offer.made), Relay()

    attempted = await sender(row, relay=relay)()

    assert attempted == outcome(Outcome.SENT)
    (mail,) = relay.sent
    assert (mail.to_name, mail.to_address) == ("Grace Hopper", "grace@example.test")
    assert f"http://shop.test/offers/{offer.offer_id}" in mail.text
    assert "held for you for 15 minutes" in mail.text
    assert mail.attachments == []


async def test_an_expired_offer_goes_to_the_fan_it_was_made_to() -> None:
    (row, _), relay = offer_due(lambda offer: offer.ended(OfferEnd.EXPIRED)), Relay()

    await sender(row, relay=relay)()

    assert relay.sent[0].to_address == "grace@example.test"
    assert "expired" in relay.sent[0].subject


async def test_an_offer_not_known_yet_waits() -> None:
    row, _ = offer_due(lambda offer: offer.ended(OfferEnd.EXPIRED), offer_known=False)
    assert await sender(row)() == outcome(Outcome.DEFERRED)
