"""The positions inventory stores with its effects, against its real PostgreSQL schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from inventory.adapters.broker_epoch import PostgresBrokerEpoch
from inventory.adapters.postgres_repository import PostgresUnitOfWork
from inventory.adapters.postgres_schema import create_schema
from inventory.application.errors import PositionMoved
from inventory.application.messages import MessagePosition
from local_infra.pytest_plugin import DatabaseFactory

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
    epoch = PostgresBrokerEpoch(pool)
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
