"""A burst of Redis commands larger than the pool waits for connections, never fails."""

from __future__ import annotations

import asyncio

import pytest

from local_infra.session_infrastructure import Infrastructure
from service_kit.redis_pool import redis_client

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
