"""Holds asked for over HTTP, on real PostgreSQL: batches, concurrent batches beside the
Kafka path, retries, the unclaimed-hold sweep against booking-command's real route, and
the wired service end to end."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from aiokafka import AIOKafkaProducer

from booking_command.adapters.event_store import in_memory_environment
from booking_command.application.ports import HoldAnswer, PaymentUnavailable, TicketsToHold
from booking_command.bootstrap import BookingCommandAdapters
from booking_command.bootstrap import build_app as build_booking_command
from booking_command.settings import BookingCommandSettings
from inventory.adapters.booking_command import BookingCommandUnavailable, HttpBookingDirectory
from inventory.adapters.postgres_repository import PostgresUnitOfWork
from inventory.adapters.postgres_schema import create_schema
from inventory.application.errors import ConcurrencyConflict
from inventory.application.hold_tickets import HoldTickets
from inventory.application.messages import DecodedMessage, MessagePosition
from inventory.application.process_batch import BatchResult, ProcessMessageBatch
from inventory.application.unclaimed_holds import ReleaseUnclaimedHolds
from inventory.bootstrap import build_app
from inventory.domain.holds import HoldGranted, HoldRefused
from inventory.domain.outcomes import BookingLine, TicketsReserved
from local_infra.ports import free_port
from local_infra.pytest_plugin import DatabaseFactory
from local_infra.session_infrastructure import Infrastructure
from service_kit.circuit_breakers import create_breaker
from service_kit.internal_auth import GATEWAY, Caller, InternalTokenIssuer, generate_key_pair
from ticketing_contracts import events as public
from ticketing_contracts import topics
from ticketing_contracts.events import RejectionReason
from ticketing_contracts.holds import HOLD_RELEASED

from .support import (
    Publisher,
    TopicReader,
    booking_requested,
    inventory_settings,
    show_created,
    stock_facts,
)

pytestmark = pytest.mark.integration

BUDGET_SECONDS = 90.0
OUTCOMES = "inventory-outcomes"
PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
TOKENS = InternalTokenIssuer.from_text(PRIVATE_KEY, ttl_seconds=3600)
INVENTORY_KEYS = generate_key_pair()
BOOKING_COMMAND_KEYS = generate_key_pair()
HOLD_FOR = timedelta(minutes=2)
CLAIM_WITHIN = timedelta(seconds=30)


def gateway_token(audience: str) -> dict[str, str]:
    """The gateway calling for itself (as operator tools do)."""
    return {"Authorization": TOKENS.authorization(audience, GATEWAY)}


def own_token(service: str, keys: tuple[str, str], audience: str) -> dict[str, str]:
    """`service` calling `audience` with its own key, as the services do."""
    issuer = InternalTokenIssuer.from_text(keys[0], issuer=service, ttl_seconds=3600)
    return {"Authorization": issuer.service_authorization(audience)}


INVENTORY_TOKEN = own_token("inventory", INVENTORY_KEYS, "booking-command")
BOOKING_COMMAND_TOKEN = own_token("booking-command", BOOKING_COMMAND_KEYS, "inventory")


def person_token(audience: str, role: Any = "admin") -> dict[str, str]:
    return {"Authorization": TOKENS.authorization(audience, Caller(f"{role}-1", role))}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CaughtUpCatalog:
    async def wait_until_caught_up(self) -> None:
        return None


class RecordingDirectory:
    """A booking-command stand-in that stores none of the bookings it is asked about."""

    def __init__(self) -> None:
        self.asked: list[list[UUID]] = []

    async def known(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        self.asked.append(list(booking_ids))
        return set()


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_factory: DatabaseFactory) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_pool(await database_factory(f"inventory_holds_{secrets.token_hex(3)}"))
    yield pool
    await pool.close()


async def open_pool(database_url: str, size: int = 8) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=size)
    await create_schema(pool)
    return pool


def decoded(event: public.PublicEvent, topic: str, offset: int) -> DecodedMessage:
    envelope = event.to_envelope(correlation_id=f"corr-{uuid4().hex[:8]}", producer="test")
    return DecodedMessage(MessagePosition(topic, 0, offset), envelope, event)


def kafka_path(pool: asyncpg.Pool) -> ProcessMessageBatch:
    """The use case the booking and catalog subscribers run, on the same database."""
    return ProcessMessageBatch(
        lambda: PostgresUnitOfWork(pool), CaughtUpCatalog(), outcome_topic=OUTCOMES, producer="t"
    )


async def consume(
    pool: asyncpg.Pool, events: Sequence[public.PublicEvent], topic: str
) -> BatchResult:
    """Decides `events` as one batch of `topic`, at the offsets after those it stored."""
    async with pool.acquire() as connection:
        start = await connection.fetchval(
            "SELECT next_offset FROM consumer_offsets WHERE topic = $1", topic
        )
    messages = [decoded(event, topic, (start or 0) + n) for n, event in enumerate(events)]
    next_offset = MessagePosition(topic, 0, (start or 0) + len(messages))
    while True:
        try:
            return await kafka_path(pool)(messages, next_offset=next_offset)
        except ConcurrencyConflict:
            # The subscriber's runtime does the same: a lost race is decided again.
            await asyncio.sleep(0.01)


async def on_sale(pool: asyncpg.Pool, shows: dict[UUID, dict[UUID, int]]) -> None:
    events: list[public.PublicEvent] = []
    for event_id, ticket_types in shows.items():
        events += [show_created(event_id, ticket_types), public.EventPublished(event_id=event_id)]
    await consume(pool, events, "catalog")


def hold_tickets(pool: asyncpg.Pool, clock: Clock) -> HoldTickets:
    return HoldTickets(
        lambda: PostgresUnitOfWork(pool),
        CaughtUpCatalog(),
        hold_for=HOLD_FOR,
        claim_within=CLAIM_WITHIN,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )


def line(
    event_id: UUID, ticket_type_id: UUID, quantity: int, booking_id: UUID | None = None
) -> BookingLine:
    return BookingLine(booking_id or uuid4(), event_id, ticket_type_id, quantity)


async def stock(pool: asyncpg.Pool, ticket_type_id: UUID) -> tuple[int, int, int]:
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT quantity, reserved, sold FROM ticket_stock WHERE ticket_type_id = $1",
            ticket_type_id,
        )
    return row["quantity"], row["reserved"], row["sold"]


async def booking_rows(pool: asyncpg.Pool, booking_ids: Sequence[UUID]) -> dict[UUID, Any]:
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT booking_id, quantity, ticket_type_id, state, claim_by FROM bookings "
            "WHERE booking_id = ANY($1::uuid[])",
            list(booking_ids),
        )
    return {row["booking_id"]: row for row in rows}


async def outbox(pool: asyncpg.Pool) -> list[public.PublicEvent]:
    async with pool.acquire() as connection:
        values = await connection.fetch("SELECT value FROM outbox ORDER BY id")
    return [public.decode_message(row["value"])[1] for row in values]


async def published(pool: asyncpg.Pool, booking_ids: Sequence[UUID]) -> list[Any]:
    """The outbox's facts about these bookings, in order."""
    return [e for e in await outbox(pool) if getattr(e, "booking_id", None) in set(booking_ids)]


async def outbox_stock_facts(pool: asyncpg.Pool, ticket_type_id: UUID) -> list[public.StockChanged]:
    """The outbox's stock facts about this ticket type, in order."""
    return [
        e
        for e in await outbox(pool)
        if isinstance(e, public.StockChanged) and e.ticket_type_id == ticket_type_id
    ]


async def stock_version(pool: asyncpg.Pool, ticket_type_id: UUID) -> int:
    async with pool.acquire() as connection:
        version: int = await connection.fetchval(
            "SELECT stock_version FROM ticket_stock WHERE ticket_type_id = $1", ticket_type_id
        )
    return version


async def test_a_batch_holds_what_stock_allows_and_refuses_the_rest_sold_out(
    pool: asyncpg.Pool,
) -> None:
    event_id, tickets = uuid4(), uuid4()
    await on_sale(pool, {event_id: {tickets: 5}})
    clock = Clock()
    batch = [line(event_id, tickets, quantity) for quantity in (2, 2, 1, 1, 3)]

    result = await hold_tickets(pool, clock)(batch, correlation_id="corr-batch")

    expires_at = clock.now + HOLD_FOR
    assert result.answers == [
        HoldGranted(batch[0].booking_id, expires_at),
        HoldGranted(batch[1].booking_id, expires_at),
        HoldGranted(batch[2].booking_id, expires_at),
        HoldRefused(batch[3].booking_id, RejectionReason.SOLD_OUT),
        HoldRefused(batch[4].booking_id, RejectionReason.SOLD_OUT),
    ]
    assert await stock(pool, tickets) == (5, 5, 0)
    assert await published(pool, [hold.booking_id for hold in batch]) == [], "refusals: no fact"
    learned, held = await outbox_stock_facts(pool, tickets)
    assert (learned.stock.available, learned.stock_version) == (5, 0)
    assert (held.stock.reserved, held.stock.available, held.stock_version) == (5, 0, 3)


async def test_concurrent_batches_beside_the_kafka_path_never_oversell(
    database_factory: DatabaseFactory,
) -> None:
    database_url = await database_factory(f"inventory_hold_race_{secrets.token_hex(3)}")
    replicas = [await open_pool(database_url, size=6) for _ in range(2)]
    try:
        shows = {uuid4(): {uuid4(): 7, uuid4(): 3}, uuid4(): {uuid4(): 5}}
        await on_sale(replicas[0], shows)
        types = [(event_id, t) for event_id, ticket_types in shows.items() for t in ticket_types]
        chooser = random.Random(21)
        # ~10x the 15 tickets, each batch across both shows in its own order.
        batches = [
            [line(*chooser.choice(types), chooser.randint(1, 3)) for _ in range(6)]
            for _ in range(8)
        ]
        facts = [booking_requested(*chooser.choice(types), chooser.randint(1, 3)) for _ in range(8)]
        holders = [hold_tickets(pool, Clock()) for pool in replicas]

        *answered, consumed = await asyncio.gather(
            *(holders[n % 2](batch, correlation_id=f"corr-{n}") for n, batch in enumerate(batches)),
            consume(replicas[1], facts, "bookings"),
        )

        requested = {hold.booking_id: hold for batch in batches for hold in batch}
        held = [
            requested[answer.booking_id]
            for result in answered
            for answer in result.answers
            if isinstance(answer, HoldGranted)
        ]
        reserved_by_facts = [o.booking for o in consumed.outcomes if isinstance(o, TicketsReserved)]
        assert len(held) < len(requested), "demand is ten times the stock"
        for _, ticket_type_id in types:
            quantity, reserved, sold = await stock(replicas[0], ticket_type_id)
            expected = sum(
                hold.quantity
                for hold in (*held, *reserved_by_facts)
                if hold.ticket_type_id == ticket_type_id
            )
            assert (reserved, sold) == (expected, 0)
            assert reserved <= quantity
        rows = await booking_rows(replicas[0], list(requested))
        assert {b for b, row in rows.items() if row["state"] == "reserved"} == {
            hold.booking_id for hold in held
        }
        # Whichever path decided, each stock version is one fact and the newest is the stock.
        for _, ticket_type_id in types:
            facts = await outbox_stock_facts(replicas[0], ticket_type_id)
            versions = [fact.stock_version for fact in facts]
            assert len(versions) == len(set(versions))
            newest = max(facts, key=lambda fact: fact.stock_version)
            quantity, reserved, sold = await stock(replicas[0], ticket_type_id)
            assert (newest.stock.reserved, newest.stock.sold) == (reserved, sold)
            assert newest.stock_version == await stock_version(replicas[0], ticket_type_id)
    finally:
        for pool in replicas:
            await pool.close()


async def test_a_retried_batch_returns_the_original_outcomes_and_holds_nothing_twice(
    pool: asyncpg.Pool,
) -> None:
    event_id, tickets = uuid4(), uuid4()
    await on_sale(pool, {event_id: {tickets: 4}})
    clock = Clock()
    holds = hold_tickets(pool, clock)
    batch = [line(event_id, tickets, 3), line(event_id, tickets, 2)]

    # A retry racing its original (the caller gave up waiting while it was in flight)...
    first, racing = await asyncio.gather(
        holds(batch, correlation_id="corr-1"), holds(batch, correlation_id="corr-1")
    )
    clock.advance(20)
    # ...and one long after it.
    late = await holds(batch, correlation_id="corr-1")

    assert first.answers == [
        HoldGranted(batch[0].booking_id, clock.now - timedelta(seconds=20) + HOLD_FOR),
        HoldRefused(batch[1].booking_id, RejectionReason.NOT_ENOUGH_TICKETS),
    ]
    assert racing.answers == first.answers
    assert late.answers == first.answers
    assert len(first.decided) + len(racing.decided) == 2
    assert late.decided == []
    assert await stock(pool, tickets) == (4, 3, 0)
    facts = await outbox_stock_facts(pool, tickets)
    assert [(f.stock.reserved, f.stock_version) for f in facts] == [(0, 0), (3, 1)], "held once"


class HoldsEverything:
    """booking-command's view of an inventory with room for every booking: these tests
    need bookings booking-command stores, not its hold call."""

    async def hold(self, requests: Sequence[TicketsToHold]) -> list[HoldAnswer]:
        return [HoldAnswer(request.booking_id, held=True) for request in requests]

    async def aclose(self) -> None:
        pass


class ProviderDown:
    """A payment provider that never answers: the stored bookings stay PENDING."""

    async def _down(self, *_: object, **__: object) -> Any:
        raise PaymentUnavailable("the payment provider is down in this test")

    create_intent = capture = find_intent = cancel = refund = _down

    async def aclose(self) -> None:
        pass


@pytest_asyncio.fixture(loop_scope="session")
async def booking_command() -> AsyncIterator[str]:
    """booking-command's real app (in-memory event store, no Kafka) served on loopback."""
    settings = BookingCommandSettings(
        environment="test",
        hold_expiry_interval_seconds=60,
        internal_token_public_key=PUBLIC_KEY,
        trusted_service_keys=f"inventory={INVENTORY_KEYS[1]}",
        payment_provider_secret_key="sk_test_Fz8Lq2Vw7Rb4Nc9Xt1Hy6Kd3Gm5Jp0Ta",
    )

    async def adapters(_: BookingCommandSettings) -> BookingCommandAdapters:
        return BookingCommandAdapters(
            event_store=in_memory_environment(),
            payment_provider=ProviderDown(),
            inventory=HoldsEverything(),
            kafka=None,
            relay_leadership=None,
            ping_event_store=False,
        )

    app = build_booking_command(settings, adapters)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            raise AssertionError("booking-command did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def stored_booking(booking_command: str) -> UUID:
    """A booking booking-command stores (of its own catalog: only the id matters here)."""
    admin = person_token("booking-command")
    async with httpx.AsyncClient(base_url=booking_command) as client:
        venue = await client.post(
            "/internal/v1/venues",
            json={"name": "Hall", "capacity": 100, "address": "1 Road"},
            headers=admin,
        )
        event = await client.post(
            "/internal/v1/events",
            json={
                "venue_id": venue.json()["id"],
                "name": "Show",
                "starts_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
                "ticket_types": [{"name": "Stalls", "price": "25.00", "quantity": 50}],
            },
            headers=admin,
        )
        await client.post(f"/internal/v1/events/{event.json()['id']}/publish", headers=admin)
        booking = await client.post(
            "/internal/v1/bookings",
            json={
                "event_id": event.json()["id"],
                "ticket_type_id": event.json()["ticket_types"][0]["ticket_type_id"],
                "quantity": 2,
                "customer_name": "Ada Lovelace",
                "customer_email": "ada@example.com",
                "payment_token": "tok_visa",
            },
            headers=person_token("booking-command", "user"),
        )
    assert booking.status_code == 202, booking.text
    return UUID(booking.json()["id"])


async def test_an_unclaimed_hold_is_released_only_once_booking_command_says_it_does_not_know_it(
    pool: asyncpg.Pool, booking_command: str
) -> None:
    event_id, tickets = uuid4(), uuid4()
    await on_sale(pool, {event_id: {tickets: 10}})
    clock = Clock()
    holds = hold_tickets(pool, clock)
    stored = line(event_id, tickets, 2, await stored_booking(booking_command))
    unclaimed = line(event_id, tickets, 3)
    await holds([stored, unclaimed], correlation_id="corr-1")
    clock.advance(CLAIM_WITHIN.total_seconds() * 10)
    breaker = create_breaker("booking_command_it", fail_max=100, reset_timeout_seconds=1)

    async with httpx.AsyncClient(timeout=2) as http:

        def sweep(url: str, credential: dict[str, str] | None) -> ReleaseUnclaimedHolds:
            directory = HttpBookingDirectory(
                url,
                http,
                breaker,
                lambda: credential["Authorization"] if credential else None,
                attempts=2,
                initial_backoff_seconds=0.01,
            )
            return ReleaseUnclaimedHolds(
                lambda: PostgresUnitOfWork(pool),
                directory,
                batch_size=100,
                outcome_topic=OUTCOMES,
                producer="inventory",
                clock=clock,
            )

        answering = INVENTORY_TOKEN
        # booking-command does not answer, or refuses inventory without its own credential:
        # however late the claim is, nothing is released.
        for url, credential in (
            (f"http://127.0.0.1:{free_port()}", answering),
            (booking_command, None),
            (booking_command, person_token("booking-command")),
            (booking_command, gateway_token("booking-command")),
            (booking_command, own_token("inventory", generate_key_pair(), "booking-command")),
        ):
            with pytest.raises(BookingCommandUnavailable):
                await sweep(url, credential)()
            assert await stock(pool, tickets) == (10, 5, 0)

        result = await sweep(booking_command, answering)()

        assert (result.due, result.released, result.claimed) == (2, 1, 1)
        assert await stock(pool, tickets) == (10, 2, 0)
        rows = await booking_rows(pool, [stored.booking_id, unclaimed.booking_id])
        assert (rows[stored.booking_id]["state"], rows[stored.booking_id]["claim_by"]) == (
            "reserved",
            None,
        )
        assert rows[unclaimed.booking_id]["state"] == "released_unclaimed"
        released = (await outbox_stock_facts(pool, tickets))[-1]
        assert (released.stock.reserved, released.stock.available) == (2, 8)
        assert released.stock_version == await stock_version(pool, tickets)
        assert (await sweep(booking_command, answering)()).due == 0

    late = await holds([unclaimed], correlation_id="corr-2")
    assert late.answers == [HoldRefused(unclaimed.booking_id, HOLD_RELEASED)]
    assert await stock(pool, tickets) == (10, 2, 0)


async def test_a_hold_claimed_by_its_booking_fact_is_never_swept(pool: asyncpg.Pool) -> None:
    event_id, tickets = uuid4(), uuid4()
    await on_sale(pool, {event_id: {tickets: 10}})
    clock = Clock()
    claimed, unclaimed = line(event_id, tickets, 2), line(event_id, tickets, 1)
    await hold_tickets(pool, clock)([claimed, unclaimed], correlation_id="corr-1")

    # booking-command stored `claimed`: the Kafka path consumes its fact.
    published_before = await outbox(pool)
    fact = booking_requested(event_id, tickets, 2, booking_id=claimed.booking_id)
    assert (await consume(pool, [fact], "bookings")).outcomes == [], "no second reservation"
    assert await stock(pool, tickets) == (10, 3, 0)
    assert await outbox(pool) == published_before, "a claim changes no stock: no fact"

    clock.advance(3600)
    forgetful = RecordingDirectory()
    result = await ReleaseUnclaimedHolds(
        lambda: PostgresUnitOfWork(pool),
        forgetful,
        batch_size=100,
        outcome_topic=OUTCOMES,
        producer="inventory",
        clock=clock,
    )()

    assert forgetful.asked == [[unclaimed.booking_id]], "a claimed hold is not even asked about"
    assert result.released == 1
    assert await stock(pool, tickets) == (10, 2, 0)
    rows = await booking_rows(pool, [claimed.booking_id])
    assert rows[claimed.booking_id]["state"] == "reserved"


@pytest_asyncio.fixture(loop_scope="session")
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await kafka.start()
    yield kafka
    await kafka.stop()


async def test_the_service_holds_over_http_and_sweeps_what_no_stored_booking_claims(
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    producer: AIOKafkaProducer,
    booking_command: str,
) -> None:
    prefix = f"{topic_prefix}{uuid4().hex[:6]}."
    settings = inventory_settings(
        database_url=await database_factory(f"inventory_holds_app_{secrets.token_hex(3)}"),
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        topic_prefix=prefix,
        internal_token_public_key=PUBLIC_KEY,
        trusted_service_keys=f"booking-command={BOOKING_COMMAND_KEYS[1]}",
        service_token_private_key=INVENTORY_KEYS[0],
        unclaimed_hold_seconds=1,
        unclaimed_hold_check_seconds=0.2,
        booking_command_url=booking_command,
    )
    app = build_app(settings)
    outcomes = TopicReader(settings.kafka_bootstrap_servers, prefix + topics.INVENTORY_EVENTS)
    publisher = Publisher(producer, prefix)
    event_id, tickets = uuid4(), uuid4()
    claimed_id, unclaimed_id, refused_id = await stored_booking(booking_command), uuid4(), uuid4()
    body = {
        "holds": [
            {"booking_id": str(booking_id), "event_id": str(event_id)}
            | {"ticket_type_id": str(tickets), "quantity": 2, "owner_id": "fan-1"}
            for booking_id in (claimed_id, unclaimed_id, refused_id)
        ]
    }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inventory") as client:
            assert (await client.post("/internal/v1/holds", json=body)).status_code == 401
            for refused in (person_token("inventory"), gateway_token("inventory")):
                answer = await client.post("/internal/v1/holds", json=body, headers=refused)
                assert answer.status_code == 403

            await publisher.publish(show_created(event_id, {tickets: 4}))
            await publisher.publish(public.EventPublished(event_id=event_id))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + BUDGET_SECONDS
            while True:  # like the caller: 503 (the catalog not read yet) is retried
                response = await client.post(
                    "/internal/v1/holds", json=body, headers=BOOKING_COMMAND_TOKEN
                )
                if response.status_code != 503 or loop.time() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert response.status_code == 200, response.text
            answers = response.json()["answers"]
            assert [a["outcome"] for a in answers] == ["held", "held", "refused"]
            assert answers[2]["reason"] == "sold_out"

            await publisher.publish(booking_requested(event_id, tickets, 2, claimed_id))
            await outcomes.start()
            try:
                # The sweep released the unclaimed hold: 2 of the 4 held tickets came back.
                await outcomes.wait_for(
                    lambda reader: any(e.stock.reserved == 2 for e in stock_facts(reader, tickets)),
                    BUDGET_SECONDS,
                )
                await asyncio.sleep(2 * settings.unclaimed_hold_check_seconds)
                facts = outcomes.events()
            finally:
                await outcomes.stop()
            levels = [
                (e.stock.reserved, e.stock.available)
                for e in facts
                if isinstance(e, public.StockChanged)
            ]
            # Learned, the batch's two holds, the sweep: the claim and refusal publish nothing.
            assert levels == [(0, 4), (4, 0), (2, 2)]
            assert [e for e in facts if not isinstance(e, public.StockChanged)] == []

            again = await client.post(
                "/internal/v1/holds", json=body, headers=BOOKING_COMMAND_TOKEN
            )
            assert [a.get("reason") for a in again.json()["answers"]] == [
                None,
                "hold_released",
                "sold_out",
            ]
            assert again.json()["answers"][0] == answers[0]
            stock_now = await client.get(
                f"/internal/v1/stock/{event_id}", headers=gateway_token("inventory")
            )
            [ticket_type] = stock_now.json()["ticket_types"]
            assert (ticket_type["reserved"], ticket_type["available"]) == (2, 2)
            stock_read = await client.get(
                f"/internal/v1/stock/{event_id}", headers=BOOKING_COMMAND_TOKEN
            )
            assert stock_read.status_code == 403, "booking-command's token reaches the holds only"
