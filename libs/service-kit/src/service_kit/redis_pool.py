"""Redis as every service opens it: a burst waits for a pooled connection.

redis-py's default pool refuses a command at once when its connections are all in use, so
a flash sale's burst looked like Redis being away (a revocation check that fails closed
answered 503). Here a command waits for a connection up to the same bound any Redis call
may take.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

REDIS_CONNECTIONS = 100
REDIS_TIMEOUT_SECONDS = 2.0


def redis_client(
    url: str,
    *,
    max_connections: int = REDIS_CONNECTIONS,
    timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
    )
    return Redis.from_pool(pool)
