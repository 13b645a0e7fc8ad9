"""The kit's `BrokerEpoch` on a service's own PostgreSQL (asyncpg).

The table is one row (`singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
cluster_id text NOT NULL, adopted_at timestamptz NOT NULL DEFAULT now()`), created by the
service's schema. What a new broker means for the service's own tables (its positions, its
outbox) is the service's `AdoptStep`, run inside the transaction that holds the row's lock
and stores the new id, so replicas starting together recover once.
"""

from __future__ import annotations

import re
from typing import Protocol

import asyncpg

from service_kit.broker_epoch import BrokerRecovery


class AdoptStep(Protocol):
    """The service's part of adopting a new broker: drop the old broker's positions, mark
    what it published for republishing, and say what it did."""

    async def __call__(
        self, connection: asyncpg.Connection, previous_cluster_id: str | None
    ) -> BrokerRecovery: ...


class PostgresBrokerEpoch:
    """`table` is the service's broker-epoch table, schema-qualified where it has one."""

    def __init__(
        self, pool: asyncpg.Pool, *, on_adopt: AdoptStep, table: str = "broker_epoch"
    ) -> None:
        self._pool = pool
        self._on_adopt = on_adopt
        table = _table_name(table)
        self._select = f"SELECT cluster_id FROM {table}"  # noqa: S608  # checked name
        self._record = (
            f"INSERT INTO {table} (cluster_id) VALUES ($1) "  # noqa: S608  # checked name
            "ON CONFLICT DO NOTHING"
        )
        self._adopt = (
            f"INSERT INTO {table} (cluster_id) VALUES ($1) "  # noqa: S608  # checked name
            "ON CONFLICT (singleton) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, "
            "adopted_at = now()"
        )

    async def stored_cluster_id(self) -> str | None:
        async with self._pool.acquire() as connection:
            cluster_id: str | None = await connection.fetchval(self._select)
            return cluster_id

    async def record_cluster_id(self, cluster_id: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(self._record, cluster_id)

    async def adopt(self, cluster_id: str) -> BrokerRecovery | None:
        async with self._pool.acquire() as connection, connection.transaction():
            previous: str | None = await connection.fetchval(f"{self._select} FOR UPDATE")
            if previous == cluster_id:
                return None
            recovery = await self._on_adopt(connection, previous)
            await connection.execute(self._adopt, cluster_id)
        return recovery


async def drop_consumer_offsets(
    connection: asyncpg.Connection, table: str = "consumer_offsets"
) -> str:
    """Deletes every stored position (`topic, partition, next_offset`) so each partition is
    read again from offset 0; returns them in words for `BrokerRecovery.dropped_offsets`."""
    dropped = await connection.fetch(
        f"DELETE FROM {_table_name(table)} RETURNING topic, partition, next_offset"  # noqa: S608  # checked name
    )
    offsets = ", ".join(
        f"{row['topic']}[{row['partition']}]@{row['next_offset']}" for row in dropped
    )
    return f"{len(dropped)} stored consumer offsets ({offsets or 'none'})"


_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?")


def _table_name(table: str) -> str:
    """Table names are spliced into statements: only a plain (schema-qualified) name."""
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"not a plain table name: {table!r}")
    return table
