"""A service's broker epoch on its real PostgreSQL: the new cluster id is stored in the
transaction that runs the service's recovery, once, however many replicas start together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from local_infra.pytest_plugin import DatabaseFactory
from local_infra.waiting import poll_until
from service_kit.broker_epoch import BrokerRecovery, reconcile_broker
from service_kit.postgres_broker_epoch import PostgresBrokerEpoch, drop_consumer_offsets

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS svc;
CREATE TABLE IF NOT EXISTS svc.broker_epoch (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id text NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS svc.consumer_offsets (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
TRUNCATE svc.broker_epoch, svc.consumer_offsets;
INSERT INTO svc.consumer_offsets VALUES ('bookings', 0, 40), ('bookings', 1, 7);
"""


@pytest.fixture
async def pool(database_factory: DatabaseFactory) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(await database_factory("kit_broker_epoch"))
    await pool.execute(SCHEMA)
    yield pool
    await pool.close()


class Recoveries:
    """The service's step: drops its offsets and remembers which cluster each run left."""

    def __init__(self) -> None:
        self.left: list[str | None] = []
        self.fail = False

    async def __call__(
        self, connection: asyncpg.Connection, previous_cluster_id: str | None
    ) -> BrokerRecovery:
        self.left.append(previous_cluster_id)
        dropped = await drop_consumer_offsets(connection, "svc.consumer_offsets")
        if self.fail:
            raise RuntimeError("the service's step failed")
        return BrokerRecovery(republished="nothing", dropped_offsets=dropped)


def epoch_on(pool: asyncpg.Pool, step: Recoveries) -> PostgresBrokerEpoch:
    return PostgresBrokerEpoch(pool, on_adopt=step, table="svc.broker_epoch")


async def offsets(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM svc.consumer_offsets")
    return count


async def test_the_first_replica_to_record_the_cluster_id_wins(pool: asyncpg.Pool) -> None:
    epoch = epoch_on(pool, Recoveries())
    assert await epoch.stored_cluster_id() is None

    await epoch.record_cluster_id("cluster-a")
    await epoch.record_cluster_id("cluster-b")

    assert await epoch.stored_cluster_id() == "cluster-a"


async def test_a_new_cluster_runs_the_services_step_and_stores_the_new_id(
    pool: asyncpg.Pool,
) -> None:
    step = Recoveries()
    epoch = epoch_on(pool, step)
    await epoch.record_cluster_id("cluster-a")

    recovery = await reconcile_broker("kit-epoch", epoch, "cluster-b")

    assert recovery == BrokerRecovery(
        republished="nothing",
        dropped_offsets="2 stored consumer offsets (bookings[0]@40, bookings[1]@7)",
    )
    assert step.left == ["cluster-a"]
    assert await epoch.stored_cluster_id() == "cluster-b"
    assert await offsets(pool) == 0
    assert await reconcile_broker("kit-epoch", epoch, "cluster-b") is None
    assert step.left == ["cluster-a"], "the same cluster again is no recovery"


async def test_a_failing_step_leaves_the_old_cluster_and_its_offsets(pool: asyncpg.Pool) -> None:
    step = Recoveries()
    epoch = epoch_on(pool, step)
    await epoch.record_cluster_id("cluster-a")
    step.fail = True

    with pytest.raises(RuntimeError, match="step failed"):
        await epoch.adopt("cluster-b")

    assert await epoch.stored_cluster_id() == "cluster-a", "the next start tries again"
    assert await offsets(pool) == 2


async def test_replicas_adopting_together_recover_once(pool: asyncpg.Pool) -> None:
    step = Recoveries()
    first, second = epoch_on(pool, step), epoch_on(pool, step)
    await first.record_cluster_id("cluster-a")
    async with pool.acquire() as holder, holder.transaction():
        # Another session holds the row: both replicas' recoveries queue behind it.
        await holder.execute("SELECT 1 FROM svc.broker_epoch FOR UPDATE")
        adopting = [asyncio.create_task(epoch.adopt("cluster-b")) for epoch in (first, second)]

        async def both_wait() -> bool:
            waiting: int = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'SELECT cluster_id FROM svc.broker_epoch FOR UPDATE'"
            )
            return waiting == 2

        assert await poll_until(both_wait, wait_seconds=10, interval=0.01)

    recoveries = await asyncio.gather(*adopting)

    assert sorted(recovery is None for recovery in recoveries) == [False, True]
    assert step.left == ["cluster-a"]
    assert await first.stored_cluster_id() == "cluster-b"


async def test_only_a_plain_table_name_is_accepted(pool: asyncpg.Pool) -> None:
    with pytest.raises(ValueError, match="not a plain table name"):
        PostgresBrokerEpoch(pool, on_adopt=Recoveries(), table="broker_epoch; DROP TABLE x")
