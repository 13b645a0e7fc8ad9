"""Facts on real Kafka, the outbox on real PostgreSQL, mail through the real mail catcher
process; entry is faked by a tiny HTTP server (support.FakeEntry)."""

from __future__ import annotations

import asyncio
import os
import signal
from uuid import uuid4

import asyncpg
import httpx
import pytest

from local_infra.health import wait_until_ready
from notifications.adapters.entry_tickets import HttpEntryTickets, no_service_credential
from notifications.adapters.postgres_schema import create_schema
from notifications.adapters.postgres_store import (
    PostgresFactStore,
    PostgresNoticeQueue,
)
from notifications.adapters.smtp_transport import SmtpTransport
from notifications.adapters.templates import JinjaMailTemplates
from notifications.application.ports import FactsToRecord
from notifications.application.send_notices import RetryPolicy, SendDueNotice
from notifications.domain.notices import customer_from, event_details_from, notice_for
from service_kit.circuit_breakers import create_breaker
from ticketing_contracts.events import CancellationReason
from ticketing_contracts.events.inventory import OfferEnd

from ..facts import Booking, Offer, envelope_of
from .support import (
    PDF,
    FakeEntry,
    Publisher,
    RunningCatcher,
    eventually,
    notifications_settings,
    running_service,
    spawn_service,
)

pytestmark = pytest.mark.integration


def fan() -> Booking:
    return Booking(customer_email=f"fan-{uuid4().hex[:10]}@example.test")


async def outbox(database_url: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetch(
            "SELECT fact_id, kind, status, attempts, last_error FROM notifications.outbox "
            "ORDER BY created_at"
        )
    finally:
        await connection.close()


async def test_a_confirmed_booking_gets_one_mail_with_its_tickets_even_when_redelivered(
    infrastructure,
    database_url,
    topic_prefix,
    catcher: RunningCatcher,
    entry: FakeEntry,
    publisher: Publisher,
) -> None:
    settings = notifications_settings(
        infrastructure, database_url, topic_prefix, smtp_port=catcher.smtp_port, entry_url=entry.url
    )
    booking = fan()
    confirmed = envelope_of(booking.confirmed())
    async with running_service(settings):
        await publisher.publish(
            settings,
            envelope_of(booking.event_created()),
            envelope_of(booking.requested()),
            confirmed,
        )
        # entry is behind at first: the confirmation waits for the tickets.
        await eventually(lambda: entry_asked(entry, booking), "notifications asked for the PDF")
        entry.issue(booking.booking_id)
        (mail,) = await eventually(
            lambda: catcher.messages(booking.customer_email), "the confirmation arrived"
        )

        # The same fact again (a redelivery), then a later one to know it was read.
        await publisher.publish(settings, confirmed, envelope_of(booking.cancelled()))
        await eventually(lambda: has_mails(catcher, booking, 2), "the cancellation notice arrived")

    mails = await catcher.messages(booking.customer_email)
    assert [m["subject"] for m in mails] == [
        "Your tickets for Jazz Night",
        "Your booking for Jazz Night is cancelled",
    ]
    assert mail["message_id"] == f"<{confirmed.event_id}@notifications.example.test>"
    assert mail["attachments"] == [
        {"filename": "tickets.pdf", "content_type": "application/pdf", "size": len(PDF)}
    ]
    assert (await catcher.attachment(mail["id"])).content == PDF
    assert [row["status"] for row in await outbox(database_url)] == ["sent", "sent"]


async def entry_asked(entry: FakeEntry, booking: Booking) -> bool:
    return any(asked == booking.booking_id for asked, _ in entry.asked)


async def has_mails(catcher: RunningCatcher, booking: Booking, count: int) -> bool:
    return len(await catcher.messages(booking.customer_email)) >= count


async def test_an_event_cancellation_and_its_refund_are_worded_as_such(
    infrastructure,
    database_url,
    topic_prefix,
    catcher: RunningCatcher,
    entry: FakeEntry,
    publisher: Publisher,
) -> None:
    settings = notifications_settings(
        infrastructure, database_url, topic_prefix, smtp_port=catcher.smtp_port, entry_url=entry.url
    )
    booking = fan()
    entry.voided.add(booking.booking_id)  # cancelled before its confirmation could go
    async with running_service(settings):
        await publisher.publish(
            settings,
            envelope_of(booking.event_created()),
            envelope_of(booking.confirmed()),
            envelope_of(booking.cancelled(CancellationReason.EVENT_CANCELLED)),
            envelope_of(booking.refunded()),
        )
        await eventually(lambda: has_mails(catcher, booking, 2), "two notices arrived")
        rows = await eventually(lambda: settled(database_url, 3), "every notice settled")

    subjects = sorted(m["subject"] for m in await catcher.messages(booking.customer_email))
    assert subjects == ["Jazz Night is cancelled", "Refund of 90.00 EUR for Jazz Night"]
    assert sorted((r["kind"], r["status"]) for r in rows) == [
        ("confirmation", "superseded"),
        ("event_cancellation", "sent"),
        ("refund", "sent"),
    ]


async def settled(database_url: str, count: int) -> list[asyncpg.Record] | None:
    rows = await outbox(database_url)
    if len(rows) == count and all(row["status"] != "pending" for row in rows):
        return rows
    return None


async def test_mail_waits_while_the_relay_is_down_and_goes_once_when_it_is_back(
    infrastructure,
    database_url,
    topic_prefix,
    entry: FakeEntry,
    publisher: Publisher,
    tmp_path,
) -> None:
    relay = RunningCatcher(tmp_path)  # its ports are chosen; nothing listens on them yet
    settings = notifications_settings(
        infrastructure, database_url, topic_prefix, smtp_port=relay.smtp_port, entry_url=entry.url
    )
    booking = fan()
    try:
        async with running_service(settings):
            await publisher.publish(
                settings,
                envelope_of(booking.event_created()),
                envelope_of(booking.requested()),
                envelope_of(booking.cancelled()),
            )
            await eventually(lambda: attempted(database_url, 2), "two attempts failed")
            await relay.start()
            await eventually(lambda: relay.messages(booking.customer_email), "the mail arrived")
            await eventually(lambda: settled(database_url, 1), "the notice is marked sent")
        assert len(await relay.messages(booking.customer_email)) == 1
    finally:
        relay.stop()


async def attempted(database_url: str, attempts: int) -> bool:
    rows = await outbox(database_url)
    return bool(rows) and rows[0]["attempts"] >= attempts


async def test_two_senders_on_one_outbox_send_each_notice_once(
    infrastructure,
    database_url,
    topic_prefix,
    catcher: RunningCatcher,
    entry: FakeEntry,
) -> None:
    settings = notifications_settings(
        infrastructure, database_url, topic_prefix, smtp_port=catcher.smtp_port, entry_url=entry.url
    )
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=12)
    await create_schema(pool)
    bookings = [fan() for _ in range(20)]
    for booking in bookings:
        entry.issue(booking.booking_id)
        facts = [booking.event_created(), booking.confirmed()]
        envelope = envelope_of(booking.confirmed())
        await PostgresFactStore(pool).record(
            FactsToRecord(
                topic="t",
                partition=0,
                next_offset=0,
                continues_from=None,
                customers=[customer_from(facts[1])],
                events=[event_details_from(facts[0])],
                notices=[notice_for(envelope.event_id, envelope.occurred_at, facts[1])],
            )
        )

    def sender() -> SendDueNotice:
        breaker = create_breaker("smtp-test", fail_max=5, reset_timeout_seconds=1)
        return SendDueNotice(
            PostgresNoticeQueue(pool),
            HttpEntryTickets(entry.url, httpx_client, breaker, no_service_credential),
            SmtpTransport(settings, breaker),
            JinjaMailTemplates(),
            retry=RetryPolicy(initial_seconds=0.1, max_seconds=1, max_attempts=10),
            mail_domain=settings.mail_domain,
            shop_url=str(settings.shop_url),
        )

    async def drain(send: SendDueNotice) -> int:
        sent = 0
        while (attempted := await send()) is not None:
            sent += attempted.outcome == "sent"
        return sent

    async with httpx.AsyncClient() as httpx_client:
        loops = [drain(sender()) for _ in range(6)]  # two replicas of three workers each
        sent_by_loop = await asyncio.gather(*loops)
    await pool.close()

    assert sum(sent_by_loop) == 20
    assert sum(1 for n in sent_by_loop if n) > 1  # the work was shared, not done by one
    for booking in bookings:
        assert len(await catcher.messages(booking.customer_email)) == 1


async def test_one_slow_mail_does_not_hold_back_the_others(
    infrastructure,
    database_url,
    topic_prefix,
    catcher: RunningCatcher,
    entry: FakeEntry,
    publisher: Publisher,
) -> None:
    settings = notifications_settings(
        infrastructure,
        database_url,
        topic_prefix,
        smtp_port=catcher.smtp_port,
        entry_url=entry.url,
        sender_concurrency=2,
        entry_timeout_seconds=60,
    )
    slow, *others = [fan() for _ in range(6)]
    for booking in (slow, *others):
        entry.issue(booking.booking_id)
    release = entry.hold(slow.booking_id)
    async with running_service(settings):
        await publisher.publish(
            settings,
            *[envelope_of(booking.event_created()) for booking in (slow, *others)],
            envelope_of(slow.confirmed()),
        )
        await eventually(lambda: entry_asked(entry, slow), "the slow booking's PDF was asked for")
        await publisher.publish(settings, *[envelope_of(booking.confirmed()) for booking in others])
        for booking in others:
            await eventually(
                lambda booking=booking: catcher.messages(booking.customer_email),
                f"{booking.customer_email}'s confirmation arrived while one PDF was slow",
                seconds=15,
            )
        assert await catcher.messages(slow.customer_email) == []
        release.set()
        await eventually(lambda: catcher.messages(slow.customer_email), "the slow one arrived")


async def test_a_service_killed_before_sending_sends_once_after_restart(
    infrastructure,
    database_url,
    topic_prefix,
    catcher: RunningCatcher,
    entry: FakeEntry,
    publisher: Publisher,
    tmp_path,
) -> None:
    closed_port = RunningCatcher(tmp_path).smtp_port
    down = notifications_settings(
        infrastructure, database_url, topic_prefix, smtp_port=closed_port, entry_url=entry.url
    )
    up = type(down)(**{**down.model_dump(), "smtp_url": f"smtp://127.0.0.1:{catcher.smtp_port}"})
    booking = fan()
    entry.issue(booking.booking_id)

    pid, url = spawn_service(down, tmp_path)
    await wait_until_ready(
        "notifications", url, pid=pid, log_path=tmp_path / "notifications.log", wait_seconds=60
    )
    await publisher.publish(
        down, envelope_of(booking.event_created()), envelope_of(booking.confirmed())
    )
    await eventually(lambda: attempted(database_url, 1), "consumed, and the send failed")
    os.kill(pid, signal.SIGKILL)

    pid, url = spawn_service(up, tmp_path)
    try:
        await wait_until_ready(
            "notifications", url, pid=pid, log_path=tmp_path / "notifications.log", wait_seconds=60
        )
        await eventually(lambda: catcher.messages(booking.customer_email), "the mail arrived")
        await eventually(lambda: settled(database_url, 1), "the notice is marked sent")
    finally:
        os.kill(pid, signal.SIGTERM)
    assert len(await catcher.messages(booking.customer_email)) == 1


async def test_a_waitlist_offer_and_its_expiry_and_an_expired_hold_each_make_one_mail(
    infrastructure,
    database_url,
    topic_prefix,
    catcher: RunningCatcher,
    entry: FakeEntry,
    publisher: Publisher,
) -> None:
    settings = notifications_settings(
        infrastructure,
        database_url,
        topic_prefix,
        smtp_port=catcher.smtp_port,
        entry_url=entry.url,
        shop_url="http://shop.test",
    )
    booking = fan()
    offer = Offer(booking, customer_email=f"waiting-{uuid4().hex[:10]}@example.test")
    made = envelope_of(offer.made())
    async with running_service(settings):
        await publisher.publish(
            settings,
            envelope_of(booking.event_created()),
            envelope_of(booking.requested()),
            envelope_of(booking.expired()),
            made,
            made,  # redelivered
            envelope_of(offer.ended(OfferEnd.DECLINED)),  # not mailed
            envelope_of(offer.ended(OfferEnd.EXPIRED)),
        )
        await eventually(lambda: settled(database_url, 3), "every notice settled")

    (held,) = await catcher.messages(booking.customer_email)
    assert held["subject"] == "Your hold on tickets for Jazz Night expired"
    offered, expired = await catcher.messages(offer.customer_email)
    assert offered["subject"].startswith("Tickets for Jazz Night are held for you until")
    assert offered["message_id"] == f"<{made.event_id}@notifications.example.test>"
    body = (await catcher.message(offered["id"]))["text"]
    assert f"http://shop.test/offers/{offer.offer_id}" in body
    assert expired["subject"] == "Your offer of tickets for Jazz Night expired"
