"""The waitlist on real PostgreSQL: joining a sold-out ticket type, offers made when tickets
come back and booked through the hold call with the offer's id, expiry passing an offer on,
two replicas running the offer step at once, organiser edits, and the event's hold window."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from inventory.adapters.postgres_repository import InventoryQueries, PostgresUnitOfWork
from inventory.adapters.postgres_schema import create_schema
from inventory.application.errors import ConcurrencyConflict
from inventory.application.hold_tickets import HoldTickets
from inventory.application.messages import DecodedMessage, MessagePosition
from inventory.application.process_batch import ProcessMessageBatch
from inventory.application.ticket_type_changes import AnswerTicketTypeChange
from inventory.application.waitlist import Place, Waitlist
from inventory.domain.holds import HoldGranted, HoldRefused
from inventory.domain.outcomes import BookingLine
from inventory.domain.waitlist import JoinRequest, TicketTypeChange
from local_infra.pytest_plugin import DatabaseFactory
from ticketing_contracts import events as public
from ticketing_contracts.events import RejectionReason
from ticketing_contracts.events.catalog import TicketTypeChanged

from .support import show_created

pytestmark = pytest.mark.integration

OUTCOMES = "inventory-outcomes"
OFFER_FOR = timedelta(minutes=15)
HOLD_FOR = timedelta(minutes=2)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class CaughtUpCatalog:
    async def wait_until_caught_up(self) -> None:
        return None


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(database_factory: DatabaseFactory) -> str:
    return await database_factory(f"inventory_waitlist_{secrets.token_hex(3)}")


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    await create_schema(pool)
    yield pool
    await pool.close()


def waitlist(pool: asyncpg.Pool, clock: Clock) -> Waitlist:
    return Waitlist(
        lambda: PostgresUnitOfWork(pool),
        offer_for=OFFER_FOR,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


def hold_tickets(pool: asyncpg.Pool, clock: Clock) -> HoldTickets:
    return HoldTickets(
        lambda: PostgresUnitOfWork(pool),
        CaughtUpCatalog(),
        hold_for=HOLD_FOR,
        claim_within=timedelta(seconds=30),
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


async def consume(pool: asyncpg.Pool, events: Sequence[public.PublicEvent]) -> None:
    """Decides `events` as the subscribers would, as one batch after those stored."""
    topic = "facts"
    async with pool.acquire() as connection:
        start = await connection.fetchval(
            "SELECT next_offset FROM consumer_offsets WHERE topic = $1", topic
        )
    messages = [
        DecodedMessage(
            MessagePosition(topic, 0, (start or 0) + n),
            event.to_envelope(correlation_id="test", producer="test"),
            event,
        )
        for n, event in enumerate(events)
    ]
    decide = ProcessMessageBatch(
        lambda: PostgresUnitOfWork(pool), CaughtUpCatalog(), outcome_topic=OUTCOMES, producer="t"
    )
    while True:
        try:
            await decide(
                messages, next_offset=MessagePosition(topic, 0, (start or 0) + len(events))
            )
            return
        except ConcurrencyConflict:
            await asyncio.sleep(0.01)


async def sold_out_show(
    pool: asyncpg.Pool, clock: Clock, quantity: int
) -> tuple[UUID, UUID, list[UUID]]:
    """An event on sale whose one ticket type is held in one booking per ticket."""
    event_id, ticket_type_id = uuid4(), uuid4()
    await consume(
        pool,
        [
            show_created(event_id, {ticket_type_id: quantity}),
            public.EventPublished(event_id=event_id),
        ],
    )
    lines = [
        BookingLine(uuid4(), event_id, ticket_type_id, 1, f"buyer-{n}") for n in range(quantity)
    ]
    result = await hold_tickets(pool, clock)(lines, correlation_id="sell-out")
    assert all(isinstance(answer, HoldGranted) for answer in result.answers)
    return event_id, ticket_type_id, [line.booking_id for line in lines]


async def join(
    pool: asyncpg.Pool,
    clock: Clock,
    event_id: UUID,
    ticket_type_id: UUID,
    fan: str,
    quantity: int = 1,
) -> Place:
    place = await waitlist(pool, clock).join(
        JoinRequest(event_id, ticket_type_id, fan, quantity, "Fan", f"{fan}@example.org")
    )
    assert isinstance(place, Place), place
    return place


async def expire(
    pool: asyncpg.Pool, event_id: UUID, ticket_type_id: UUID, bookings: Sequence[UUID]
) -> None:
    await consume(
        pool,
        [
            public.BookingExpired(
                booking_id=booking_id, event_id=event_id, ticket_type_id=ticket_type_id, quantity=1
            )
            for booking_id in bookings
        ],
    )


async def entries(pool: asyncpg.Pool, event_id: UUID) -> dict[str, Any]:
    rows = await pool.fetch(
        "SELECT owner_id, state, offer_id FROM waitlist_entries WHERE event_id = $1", event_id
    )
    return {row["owner_id"]: row for row in rows}


async def stock(pool: asyncpg.Pool, ticket_type_id: UUID) -> Any:
    return await pool.fetchrow(
        "SELECT quantity, reserved, sold, offered FROM ticket_stock WHERE ticket_type_id = $1",
        ticket_type_id,
    )


async def offer_facts(pool: asyncpg.Pool) -> list[tuple[str, UUID]]:
    rows = await pool.fetch("SELECT value FROM outbox ORDER BY id")
    facts = [public.decode_envelope(row["value"]) for row in rows]
    return [
        (envelope.type, envelope.data["offer_id"])
        for envelope in facts
        if envelope.type.startswith("inventory.waitlist_offer")
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_returned_ticket_is_offered_to_the_first_fan_who_books_it_with_the_offer(
    pool: asyncpg.Pool,
) -> None:
    clock = Clock()
    event_id, ticket_type_id, bookings = await sold_out_show(pool, clock, 2)
    first = await join(pool, clock, event_id, ticket_type_id, "ada")
    second = await join(pool, clock, event_id, ticket_type_id, "bob")
    assert (first.position, second.position, first.new) == (1, 2, True)

    await expire(pool, event_id, ticket_type_id, bookings[:1])
    general = await hold_tickets(pool, clock)(
        [BookingLine(uuid4(), event_id, ticket_type_id, 1, "speedy")], correlation_id="c"
    )
    await waitlist(pool, clock).make_offers()

    assert general.answers[0] == HoldRefused(
        general.answers[0].booking_id, RejectionReason.SOLD_OUT
    )
    offered = await entries(pool, event_id)
    assert (offered["ada"]["state"], offered["bob"]["state"]) == ("offered", "waiting")
    booked = await hold_tickets(pool, clock)(
        [BookingLine(uuid4(), event_id, ticket_type_id, 1, "ada", offered["ada"]["offer_id"])],
        correlation_id="accept",
    )
    assert isinstance(booked.answers[0], HoldGranted)
    assert (await entries(pool, event_id))["ada"]["state"] == "accepted"
    assert tuple(await stock(pool, ticket_type_id)) == (2, 2, 0, 0)
    offer_id = offered["ada"]["offer_id"]
    assert [fact for fact in await offer_facts(pool) if fact[1] == str(offer_id)] == [
        ("inventory.waitlist_offer_made", str(offer_id)),
        ("inventory.waitlist_offer_ended", str(offer_id)),
    ]
    mine = await InventoryQueries(pool).entries_of("bob")
    assert [(entry.state.value, position) for entry, position in mine] == [("waiting", 1)]


@pytest.mark.asyncio(loop_scope="session")
async def test_an_expired_offer_passes_to_the_next_fan(pool: asyncpg.Pool) -> None:
    clock = Clock()
    event_id, ticket_type_id, bookings = await sold_out_show(pool, clock, 1)
    await join(pool, clock, event_id, ticket_type_id, "ada")
    await join(pool, clock, event_id, ticket_type_id, "bob")
    await expire(pool, event_id, ticket_type_id, bookings)
    await waitlist(pool, clock).make_offers()
    ada_offer = (await entries(pool, event_id))["ada"]["offer_id"]

    clock.now += OFFER_FOR
    await waitlist(pool, clock).make_offers()

    after = await entries(pool, event_id)
    assert (after["ada"]["state"], after["bob"]["state"]) == ("expired", "offered")
    late = await hold_tickets(pool, clock)(
        [BookingLine(uuid4(), event_id, ticket_type_id, 1, "ada", ada_offer)], correlation_id="l"
    )
    assert late.answers[0] == HoldRefused(
        late.answers[0].booking_id, RejectionReason.OFFER_NOT_VALID
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_two_replicas_running_the_offer_step_at_once_offer_each_ticket_once(
    database_url: str, pool: asyncpg.Pool
) -> None:
    clock = Clock()
    event_id, ticket_type_id, bookings = await sold_out_show(pool, clock, 12)
    for n in range(12):
        await join(pool, clock, event_id, ticket_type_id, f"fan-{n:02}")
    other_replica = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        replicas = [waitlist(pool, clock), waitlist(other_replica, clock)]

        async def steps(replica: Waitlist) -> None:
            for _ in range(10):
                await replica.make_offers()

        await asyncio.gather(
            expire(pool, event_id, ticket_type_id, bookings[:7]),
            *(steps(replica) for replica in replicas),
        )
        await replicas[1].make_offers()
    finally:
        await other_replica.close()

    after = await entries(pool, event_id)
    offered = sorted(fan for fan, row in after.items() if row["state"] == "offered")
    assert offered == [f"fan-{n:02}" for n in range(7)]
    assert tuple(await stock(pool, ticket_type_id)) == (12, 5, 0, 7)
    made = [fact for fact in await offer_facts(pool) if fact[0].endswith("made")]
    assert (
        len({offer for _, offer in made if offer in {str(r["offer_id"]) for r in after.values()}})
        == 7
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_a_lower_quantity_is_refused_below_what_is_taken_and_a_raise_goes_to_the_waitlist(
    pool: asyncpg.Pool,
) -> None:
    clock = Clock()
    event_id, ticket_type_id, _ = await sold_out_show(pool, clock, 3)
    await join(pool, clock, event_id, ticket_type_id, "ada", quantity=2)
    answer = AnswerTicketTypeChange(
        lambda: PostgresUnitOfWork(pool), outcome_topic=OUTCOMES, producer="inventory", clock=clock
    )

    refused = await answer(TicketTypeChange(event_id, ticket_type_id, quantity=2))
    await consume(
        pool,
        [
            TicketTypeChanged(
                event_id=event_id,
                ticket_type_id=ticket_type_id,
                name="Standing",
                price="30.00",
                currency="EUR",
                quantity=5,
            )
        ],
    )
    general = await hold_tickets(pool, clock)(
        [BookingLine(uuid4(), event_id, ticket_type_id, 1, "speedy")], correlation_id="c"
    )
    await waitlist(pool, clock).make_offers()

    assert (refused.is_applied, refused.reason, refused.taken.held) == (
        False,
        "quantity_below_taken",
        3,
    )
    assert general.answers[0] == HoldRefused(
        general.answers[0].booking_id, RejectionReason.SOLD_OUT
    )
    assert (await entries(pool, event_id))["ada"]["state"] == "offered"
    assert tuple(await stock(pool, ticket_type_id)) == (5, 3, 0, 2)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_hold_lasts_the_events_hold_minutes(pool: asyncpg.Pool) -> None:
    clock = Clock()
    event_id, ticket_type_id = uuid4(), uuid4()
    await consume(
        pool,
        [
            show_created(event_id, {ticket_type_id: 5}),
            public.EventPublished(event_id=event_id),
            public.EventSaleChanged(
                event_id=event_id,
                sale_starts_at=None,
                sale_ends_at=None,
                max_tickets_per_account=None,
                hold_minutes=7,
            ),
        ],
    )

    result = await hold_tickets(pool, clock)(
        [BookingLine(uuid4(), event_id, ticket_type_id, 1, "ada")], correlation_id="h"
    )

    granted = result.answers[0]
    assert isinstance(granted, HoldGranted)
    assert granted.expires_at == clock.now + timedelta(minutes=7)
