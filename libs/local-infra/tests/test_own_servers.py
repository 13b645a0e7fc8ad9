"""`make run`'s PostgreSQL and Redis: a server that answers where the settings point is used
as it is; where none answers, our own runs under the state dir, on loopback only, keeps its
data across a stop and a start, and `make stop` stops it."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis

from local_infra.errors import InfrastructureUnavailable
from local_infra.ports import free_port
from local_infra.postgres import can_connect, ensure_postgres, stop_own_postgres
from local_infra.postgres_cluster import PostgresCluster
from local_infra.redis_server import RedisServer, can_ping, ensure_redis, stop_own_redis
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack import OWN_POSTGRES_DIR, OWN_REDIS_DIR, stop_stack
from local_infra.urls import port_of

pytestmark = pytest.mark.integration


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on TCP `port` (Linux's /proc/net)."""
    addresses: set[str] = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if state != "0A" or int(local_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            in_network_order = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            addresses.add(socket.inet_ntop(family, in_network_order))
    return addresses


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: as root, PostgreSQL's user must reach the directory.
    directory = Path(tempfile.mkdtemp(prefix="local-infra-run-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def own_postgres_dir(state_dir: Path) -> AsyncIterator[Path]:
    directory = state_dir / OWN_POSTGRES_DIR
    yield directory
    await stop_own_postgres(directory)


@pytest.fixture
async def own_redis_dir(state_dir: Path) -> AsyncIterator[Path]:
    directory = state_dir / OWN_REDIS_DIR
    yield directory
    await stop_own_redis(directory)


@pytest.fixture
async def taken_port() -> AsyncIterator[int]:
    """A loopback port another program listens on: it hangs up on every connection."""

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def _query(url: str, sql: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def test_a_postgres_that_answers_is_used_as_it_is(
    infrastructure: Infrastructure, own_postgres_dir: Path
) -> None:
    url = await ensure_postgres(infrastructure.postgres_admin_url, own_postgres_dir)

    assert url == infrastructure.postgres_admin_url
    assert not PostgresCluster(own_postgres_dir).is_running()


async def test_a_redis_that_answers_is_used_as_it_is(
    infrastructure: Infrastructure, own_redis_dir: Path
) -> None:
    url = await ensure_redis(infrastructure.redis_url, own_redis_dir)

    assert url == infrastructure.redis_url
    assert not RedisServer(own_redis_dir).is_running()


async def test_where_no_postgres_answers_ours_starts_there_and_keeps_a_table_across_a_stop(
    own_postgres_dir: Path,
) -> None:
    configured = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"

    url = await ensure_postgres(configured, own_postgres_dir)
    await _query(url, "CREATE TABLE kept AS SELECT 1 AS id")
    assert await stop_own_postgres(own_postgres_dir)
    assert not await can_connect(url, connect_seconds=1)
    again = await ensure_postgres(configured, own_postgres_dir)

    assert url == again == configured
    assert await _query(url, "SELECT count(*) FROM kept") == 1
    # make run's data must outlive a crash of the machine, not only a stop of the server.
    assert await _query(url, "SHOW fsync") == "on"


async def test_where_no_redis_answers_ours_starts_there_and_keeps_a_key_across_a_stop(
    own_redis_dir: Path,
) -> None:
    configured = f"redis://127.0.0.1:{free_port()}/3"

    url = await ensure_redis(configured, own_redis_dir)
    client = redis.from_url(url)
    await client.set("kept", "yes")
    await client.aclose()
    assert await stop_own_redis(own_redis_dir)
    assert not await can_ping(url, connect_seconds=1)
    again = await ensure_redis(configured, own_redis_dir)

    assert url == again == configured
    client = redis.from_url(url)
    try:
        assert await client.get("kept") == b"yes"
    finally:
        await client.aclose()


async def test_our_postgres_takes_a_free_port_when_the_configured_one_is_taken_and_is_found_there(
    own_postgres_dir: Path, taken_port: int
) -> None:
    configured = f"postgresql://postgres@127.0.0.1:{taken_port}/postgres"

    url = await ensure_postgres(configured, own_postgres_dir)
    first_pid = PostgresCluster(own_postgres_dir).pid
    again = await ensure_postgres(configured, own_postgres_dir)

    assert port_of(url, 0) != taken_port
    assert await can_connect(url)
    assert again == url
    assert PostgresCluster(own_postgres_dir).pid == first_pid


async def test_our_redis_takes_a_free_port_when_the_configured_one_is_taken_and_is_found_there(
    own_redis_dir: Path, taken_port: int
) -> None:
    configured = f"redis://127.0.0.1:{taken_port}/0"

    url = await ensure_redis(configured, own_redis_dir)
    first_pid = RedisServer(own_redis_dir).pid
    again = await ensure_redis(configured, own_redis_dir)

    assert port_of(url, 0) != taken_port
    assert await can_ping(url)
    assert again == url
    assert RedisServer(own_redis_dir).pid == first_pid


async def test_our_servers_listen_on_loopback_only(
    own_postgres_dir: Path, own_redis_dir: Path
) -> None:
    postgres_url = await ensure_postgres(
        f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", own_postgres_dir
    )
    redis_url = await ensure_redis(f"redis://127.0.0.1:{free_port()}/0", own_redis_dir)

    assert listening_addresses(port_of(postgres_url, 0)) == {"127.0.0.1"}
    assert listening_addresses(port_of(redis_url, 0)) == {"127.0.0.1"}


async def test_a_remote_server_that_does_not_answer_is_not_replaced_by_ours(
    own_postgres_dir: Path, own_redis_dir: Path
) -> None:
    with pytest.raises(InfrastructureUnavailable, match="apt-get install postgresql"):
        await ensure_postgres("postgresql://postgres@db.invalid:5432/postgres", own_postgres_dir)
    with pytest.raises(InfrastructureUnavailable, match="apt-get install redis-server"):
        await ensure_redis("redis://cache.invalid:6379/0", own_redis_dir)

    assert not PostgresCluster(own_postgres_dir).is_running()
    assert not RedisServer(own_redis_dir).is_running()


async def test_make_stop_stops_our_servers(
    state_dir: Path, own_postgres_dir: Path, own_redis_dir: Path
) -> None:
    postgres_url = await ensure_postgres(
        f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", own_postgres_dir
    )
    redis_url = await ensure_redis(f"redis://127.0.0.1:{free_port()}/0", own_redis_dir)

    await stop_stack(state_dir)

    assert not PostgresCluster(own_postgres_dir).is_running()
    assert not RedisServer(own_redis_dir).is_running()
    assert not await can_connect(postgres_url, connect_seconds=1)
    assert not await can_ping(redis_url, connect_seconds=1)


async def test_without_redis_server_installed_the_error_names_the_package(
    monkeypatch: pytest.MonkeyPatch, state_dir: Path, own_redis_dir: Path
) -> None:
    monkeypatch.setenv("PATH", str(state_dir))

    with pytest.raises(InfrastructureUnavailable, match="apt-get install redis-server"):
        await ensure_redis(f"redis://127.0.0.1:{free_port()}/0", own_redis_dir)


async def test_a_frozen_redis_answers_nothing_until_thawed_and_a_killed_one_can_start_empty(
    own_redis_dir: Path,
) -> None:
    server = RedisServer(own_redis_dir)
    await server.start()
    try:
        client = redis.from_url(server.url)
        await client.set("kept", "yes")
        await client.aclose()

        server.freeze()
        assert not await can_ping(server.url, connect_seconds=0.5)
        server.thaw()
        assert await can_ping(server.url)

        server.freeze()
        server.kill()
        server.forget_data()
        await server.start()
        client = redis.from_url(server.url)
        try:
            assert await client.get("kept") is None
        finally:
            await client.aclose()
    finally:
        await server.stop()
