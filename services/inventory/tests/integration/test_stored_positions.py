"""The positions inventory stores with its effects, against its real PostgreSQL schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from uuid import uuid4

import asyncpg
import pytest

from inventory.adapters.broker_epoch import republish_the_outbox
from inventory.adapters.outbox_relay import OutboxRelay
from inventory.adapters.postgres_repository import PostgresUnitOfWork
from inventory.adapters.postgres_schema import create_schema
from inventory.application.errors import PositionMoved
from inventory.application.messages import MessagePosition, OutgoingMessage
from local_infra.pytest_plugin import DatabaseFactory
from service_kit.broker_epoch import BrokerRecovery
from service_kit.circuit_breakers import CircuitBreaker
from service_kit.kafka.messages import OutboundMessage
from service_kit.postgres_broker_epoch import PostgresBrokerEpoch

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(
    database_factory: DatabaseFactory, request: pytest.FixtureRequest
) -> AsyncIterator[asyncpg.Pool]:
    name = f"inventory_positions_{request.node.name[5:20]}"
    pool = await asyncpg.create_pool(await database_factory(name))
    await create_schema(pool)
    yield pool
    await pool.close()


async def stored(pool: asyncpg.Pool) -> int | None:
    offset: int | None = await pool.fetchval(
        "SELECT next_offset FROM consumer_offsets WHERE topic = 'bookings' AND partition = 0"
    )
    return offset


async def store(pool: asyncpg.Pool, next_offset: int, continues_from: int) -> None:
    async with PostgresUnitOfWork(pool) as uow:
        await uow.record_next_offset(
            MessagePosition("bookings", 0, next_offset), continues_from=continues_from
        )
        await uow.commit()


async def test_a_batch_read_before_a_broker_recovery_cannot_store_its_stale_position(
    pool: asyncpg.Pool,
) -> None:
    await store(pool, 40, continues_from=0)
    epoch = PostgresBrokerEpoch(pool, on_adopt=republish_the_outbox)
    await epoch.record_cluster_id("old-cluster")

    # A consumer still reading at 40 finishes its batch after the recovery for a new broker.
    assert await epoch.adopt("new-cluster") is not None
    with pytest.raises(PositionMoved):
        await store(pool, 45, continues_from=40)
    assert await stored(pool) is None, "the new broker's topics are read from the start"

    await store(pool, 3, continues_from=0)
    assert await stored(pool) == 3


async def test_a_replica_that_lost_its_partition_cannot_move_the_new_owners_position(
    pool: asyncpg.Pool,
) -> None:
    await store(pool, 10, continues_from=0)
    await store(pool, 20, continues_from=10)  # the new owner went on
    with pytest.raises(PositionMoved):
        await store(pool, 15, continues_from=10)  # the old owner's late batch
    assert await stored(pool) == 20


async def test_a_relay_round_in_flight_when_the_broker_changes_leaves_its_rows_to_republish(
    pool: asyncpg.Pool,
) -> None:
    epoch = PostgresBrokerEpoch(pool, on_adopt=republish_the_outbox)
    await epoch.record_cluster_id("old-cluster")
    async with PostgresUnitOfWork(pool) as uow:
        await uow.add_to_outbox(
            [OutgoingMessage(uuid4(), "inventory", b"show", b"{}") for _ in range(3)]
        )
        await uow.commit()
    recovery: list[asyncio.Task[BrokerRecovery | None]] = []

    async def adopt_is_waiting() -> bool:
        waiting: bool = await pool.fetchval(
            "SELECT count(*) > 0 FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%UPDATE outbox SET published_at = NULL%'"
        )
        return waiting

    async def publish_while_the_broker_is_replaced(messages: Sequence[OutboundMessage]) -> None:
        # The old broker took these; the recovery for the new one starts meanwhile.
        recovery.append(asyncio.create_task(epoch.adopt("new-cluster")))
        async with asyncio.timeout(10):
            # PostgreSQL tells whether the recovery waits on a lock; nothing to be woken by.
            while not (recovery[0].done() or await adopt_is_waiting()):  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    def breaker(name: str) -> CircuitBreaker:
        return CircuitBreaker(name, fail_max=5, reset_timeout_seconds=1)

    relay = OutboxRelay(
        pool,
        publish_while_the_broker_is_replaced,
        postgres_breaker=breaker("postgres"),
        producer_breaker=breaker("producer"),
    )
    assert await relay.publish_pending() == 3
    assert await recovery[0] is not None
    unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert unpublished == 3, "the new broker gets every row again"
