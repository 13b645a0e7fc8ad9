"""Redis as services open it: a burst waits for connections, a dead server fails fast."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import RedisError, ResponseError

from local_infra.session_infrastructure import Infrastructure
from service_kit.redis_pool import RedisUnavailable, redis_breaker, redis_client

pytestmark = pytest.mark.integration


async def test_a_burst_larger_than_the_pool_is_answered_in_full(
    infrastructure: Infrastructure,
) -> None:
    redis = redis_client(infrastructure.redis_url, max_connections=10)
    try:
        answers = await asyncio.gather(*(redis.ping() for _ in range(300)))
    finally:
        await redis.aclose()

    assert answers == [True] * 300


async def test_a_stopped_server_costs_a_few_timeouts_then_commands_fail_at_once() -> None:
    # A listening socket that never answers: what a frozen (SIGSTOPped) Redis looks like.
    async def never_answer(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    breaker = redis_breaker(fail_max=2, reset_seconds=60)
    redis = redis_client(f"redis://127.0.0.1:{port}", timeout_seconds=0.2, breaker=breaker)
    try:
        for _ in range(2):
            with pytest.raises(RedisError):
                await redis.get("key")
        started = time.perf_counter()
        with pytest.raises(RedisUnavailable):
            await redis.get("key")
        assert time.perf_counter() - started < 0.05
    finally:
        await redis.aclose()
        server.close()


async def test_errors_redis_answers_do_not_open_the_breaker(
    infrastructure: Infrastructure, redis_key_prefix: str
) -> None:
    breaker = redis_breaker(fail_max=1, reset_seconds=60)
    redis = redis_client(infrastructure.redis_url, breaker=breaker)
    key = f"{redis_key_prefix}a-string"
    try:
        await redis.set(key, "text")
        with pytest.raises(ResponseError):
            await redis.hget(key, "field")  # a string is not a hash: WRONGTYPE
        assert await redis.get(key) == b"text"
    finally:
        await redis.delete(key)
        await redis.aclose()
