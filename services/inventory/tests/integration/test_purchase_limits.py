"""Purchase limits and sale windows on real PostgreSQL: one account's concurrent holds,
batches, retries and booking facts never take it past its limit, while other accounts
buy; a booking that ends gives its tickets back to the account; a window edit decides the
next hold."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from inventory.adapters.postgres_repository import PostgresUnitOfWork
from inventory.adapters.postgres_schema import create_schema
from inventory.application.errors import ConcurrencyConflict
from inventory.application.hold_tickets import HoldBatchResult, HoldTickets
from inventory.application.messages import DecodedMessage, MessagePosition
from inventory.application.process_batch import BatchResult, ProcessMessageBatch
from inventory.domain.holds import HoldGranted, HoldRefused
from inventory.domain.outcomes import BookingLine, TicketsReserved
from inventory.domain.sale import LimitScope, PurchaseLimitReached, SaleWindow
from local_infra.pytest_plugin import DatabaseFactory
from ticketing_contracts import events as public
from ticketing_contracts.events import RejectionReason

from .support import booking_requested, show_created

pytestmark = pytest.mark.integration

OUTCOMES = "inventory-outcomes"
LIMIT = 4
FAN = "fan-limited"


class CaughtUpCatalog:
    async def wait_until_caught_up(self) -> None:
        return None


async def open_pool(database_url: str, size: int = 6) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=size)
    await create_schema(pool)
    return pool


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(database_factory: DatabaseFactory) -> AsyncIterator[list[asyncpg.Pool]]:
    """Two inventory replicas' pools on one database."""
    database_url = await database_factory(f"inventory_limits_{secrets.token_hex(3)}")
    pools = [await open_pool(database_url) for _ in range(2)]
    yield pools
    for pool in pools:
        await pool.close()


async def consume(
    pool: asyncpg.Pool, events: Sequence[public.PublicEvent], topic: str
) -> BatchResult:
    """Decides `events` as one batch of `topic`, as the subscribers do."""
    async with pool.acquire() as connection:
        start = await connection.fetchval(
            "SELECT next_offset FROM consumer_offsets WHERE topic = $1", topic
        )
    messages = [
        DecodedMessage(
            MessagePosition(topic, 0, (start or 0) + n),
            event.to_envelope(correlation_id=f"corr-{uuid4().hex[:8]}", producer="test"),
            event,
        )
        for n, event in enumerate(events)
    ]
    use_case = ProcessMessageBatch(
        lambda: PostgresUnitOfWork(pool), CaughtUpCatalog(), outcome_topic=OUTCOMES, producer="t"
    )
    while True:
        try:
            return await use_case(
                messages, next_offset=MessagePosition(topic, 0, (start or 0) + len(messages))
            )
        except ConcurrencyConflict:
            await asyncio.sleep(0.01)


async def limited_sale(
    pool: asyncpg.Pool,
    stalls: UUID,
    balcony: UUID,
    *,
    sale_starts_at: datetime | None = None,
) -> UUID:
    """An event on sale with a limit of LIMIT tickets per account, its stalls 2 at most."""
    event_id = uuid4()
    created = show_created(event_id, {stalls: 100, balcony: 100})
    ticket_types = tuple(
        t.model_copy(update={"max_tickets_per_account": 2}) if t.ticket_type_id == stalls else t
        for t in created.ticket_types
    )
    created = created.model_copy(
        update={
            "ticket_types": ticket_types,
            "max_tickets_per_account": LIMIT,
            "sale_starts_at": sale_starts_at,
        }
    )
    await consume(pool, [created, public.EventPublished(event_id=event_id)], "catalog")
    return event_id


def holds(pool: asyncpg.Pool, clock: datetime | None = None) -> HoldTickets:
    return HoldTickets(
        lambda: PostgresUnitOfWork(pool),
        CaughtUpCatalog(),
        hold_for=timedelta(minutes=2),
        claim_within=timedelta(seconds=30),
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=(lambda: clock) if clock is not None else lambda: datetime.now(UTC),
    )


def line(event_id: UUID, ticket_type_id: UUID, quantity: int, owner_id: str = FAN) -> BookingLine:
    return BookingLine(uuid4(), event_id, ticket_type_id, quantity, owner_id)


async def decide(holder: HoldTickets, batch: list[BookingLine]) -> HoldBatchResult:
    return await holder(batch, correlation_id=f"corr-{uuid4().hex[:8]}")


async def tickets_taken(pool: asyncpg.Pool, event_id: UUID) -> dict[str, int]:
    """Per account, the tickets its stored bookings hold or bought."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT owner_id, sum(quantity) AS tickets FROM bookings "
            "WHERE event_id = $1 AND state IN ('reserved', 'sold') GROUP BY owner_id",
            event_id,
        )
    return {row["owner_id"]: int(row["tickets"]) for row in rows}


def granted(results: Sequence[HoldBatchResult]) -> list[HoldGranted]:
    return [a for result in results for a in result.answers if isinstance(a, HoldGranted)]


def refusals(results: Sequence[HoldBatchResult]) -> list[HoldRefused]:
    return [a for result in results for a in result.answers if isinstance(a, HoldRefused)]


async def test_fifty_concurrent_holds_of_one_account_never_pass_its_limit_while_others_buy(
    replicas: list[asyncpg.Pool],
) -> None:
    stalls, balcony = uuid4(), uuid4()
    event_id = await limited_sale(replicas[0], stalls, balcony)
    holders = [holds(pool) for pool in replicas]
    fan_requests = [line(event_id, balcony, 1) for _ in range(50)]
    others = [line(event_id, balcony, 2, owner_id=f"fan-{n}") for n in range(10)]

    results = await asyncio.gather(
        *(decide(holders[n % 2], [request]) for n, request in enumerate([*fan_requests, *others]))
    )

    fans_answers = results[: len(fan_requests)]
    assert len(granted(fans_answers)) == LIMIT
    assert {refusal.reason for refusal in refusals(fans_answers)} == {
        RejectionReason.PURCHASE_LIMIT_REACHED
    }
    assert all(
        refusal.detail == PurchaseLimitReached(LimitScope.EVENT, LIMIT, LIMIT)
        for refusal in refusals(fans_answers)
    )
    assert len(granted(results[len(fan_requests) :])) == len(others), "other accounts still buy"
    taken = await tickets_taken(replicas[0], event_id)
    assert taken[FAN] == LIMIT
    assert all(taken[other.owner_id or ""] == 2 for other in others)


async def test_concurrent_batches_retries_and_booking_facts_of_one_account_stay_within_it(
    replicas: list[asyncpg.Pool],
) -> None:
    stalls, balcony = uuid4(), uuid4()
    event_id = await limited_sale(replicas[0], stalls, balcony)
    holders = [holds(pool) for pool in replicas]
    # Two tabs and several bookings at once: each batch mixes the account's requests of
    # both ticket types with other accounts'; every batch is sent twice (a retry racing
    # its original); booking facts of the same account are decided on the Kafka path.
    batches = [
        [
            line(event_id, stalls, 1),
            line(event_id, balcony, 2),
            line(event_id, balcony, 1, owner_id=f"fan-{n}"),
        ]
        for n in range(8)
    ]
    facts = [booking_requested(event_id, balcony, 1) for _ in range(4)]
    facts = [fact.model_copy(update={"owner_id": FAN}) for fact in facts]

    holding = asyncio.gather(
        *(decide(holders[n % 2], batch) for n, batch in enumerate(batches)),
        *(decide(holders[(n + 1) % 2], batch) for n, batch in enumerate(batches)),
    )
    results, _ = await asyncio.gather(holding, consume(replicas[1], facts, "bookings"))

    taken = await tickets_taken(replicas[0], event_id)
    assert taken[FAN] <= LIMIT
    async with replicas[0].acquire() as connection:
        stalls_taken = await connection.fetchval(
            "SELECT coalesce(sum(quantity), 0) FROM bookings WHERE event_id = $1 "
            "AND owner_id = $2 AND ticket_type_id = $3 AND state IN ('reserved', 'sold')",
            event_id,
            FAN,
            stalls,
        )
        stock = await connection.fetchrow(
            "SELECT reserved FROM ticket_stock WHERE ticket_type_id = $1", balcony
        )
    assert stalls_taken <= 2, "the ticket type's own limit"
    assert all(taken[f"fan-{n}"] == 1 for n in range(8)), "each other account holds once"
    # Whatever was answered held is held, once, however often it was asked.
    held_ids = {answer.booking_id for answer in granted(results)}
    requested = {request.booking_id: request for batch in batches for request in batch}
    assert stock["reserved"] >= sum(
        requested[booking_id].quantity
        for booking_id in held_ids
        if requested[booking_id].ticket_type_id == balcony
    )
    for original, retry in zip(results[: len(batches)], results[len(batches) :], strict=True):
        for first, again in zip(original.answers, retry.answers, strict=True):
            if isinstance(first, HoldGranted) or isinstance(again, HoldGranted):
                assert first == again, "a held booking id is answered its hold again"


async def test_a_cancelled_booking_and_an_expired_hold_give_the_account_its_tickets_back(
    replicas: list[asyncpg.Pool],
) -> None:
    pool = replicas[0]
    stalls, balcony = uuid4(), uuid4()
    event_id = await limited_sale(pool, stalls, balcony)
    holder = holds(pool)
    kept, cancelled = line(event_id, balcony, 2), line(event_id, balcony, 2)
    assert len(granted([await decide(holder, [kept, cancelled])])) == 2
    [refused] = (await decide(holder, [line(event_id, balcony, 1)])).answers
    assert isinstance(refused, HoldRefused)
    assert refused.reason is RejectionReason.PURCHASE_LIMIT_REACHED

    stored = booking_requested(event_id, balcony, 2, cancelled.booking_id)
    await consume(pool, [stored.model_copy(update={"owner_id": FAN})], "bookings")
    confirmed = public.BookingConfirmed(
        **stored.model_dump(include={"booking_id", "event_id", "ticket_type_id", "quantity"}),
        owner_id=FAN,
        customer_name=stored.customer_name,
        customer_email=stored.customer_email,
        total_price=stored.total_price,
        currency="EUR",
        provider_reference="pi_test",
    )
    cancellation = public.BookingCancelled(
        **stored.model_dump(include={"booking_id", "event_id", "ticket_type_id", "quantity"}),
        cancelled_by=FAN,
    )
    await consume(pool, [confirmed, cancellation], "bookings")

    again = await decide(holder, [line(event_id, balcony, 2)])
    assert isinstance(again.answers[0], HoldGranted), "the cancelled booking's 2 tickets"

    expiry = public.BookingExpired(
        booking_id=kept.booking_id, event_id=event_id, ticket_type_id=balcony, quantity=2
    )
    await consume(pool, [expiry], "bookings")
    assert (await tickets_taken(pool, event_id))[FAN] == 2
    assert isinstance((await decide(holder, [line(event_id, balcony, 2)])).answers[0], HoldGranted)


async def test_a_hold_before_the_sale_is_refused_with_its_window_until_the_window_moves(
    replicas: list[asyncpg.Pool],
) -> None:
    pool = replicas[0]
    stalls, balcony = uuid4(), uuid4()
    now = datetime.now(UTC).replace(microsecond=0)
    opens = now + timedelta(hours=1)
    event_id = await limited_sale(pool, stalls, balcony, sale_starts_at=opens)
    early = line(event_id, balcony, 1)

    [refused] = (await decide(holds(pool, now), [early])).answers

    assert refused == HoldRefused(
        early.booking_id, RejectionReason.NOT_ON_SALE, SaleWindow(opens, None)
    )
    assert await tickets_taken(pool, event_id) == {}

    moved = public.EventSaleChanged(
        event_id=event_id,
        sale_starts_at=now - timedelta(minutes=1),
        sale_ends_at=None,
        max_tickets_per_account=LIMIT,
    )
    await consume(pool, [moved], "catalog")
    result = await decide(holds(pool, now), [early])

    assert isinstance(result.answers[0], HoldGranted), "the same booking id, decided again"
    assert [type(outcome) for outcome in result.decided] == [TicketsReserved]
