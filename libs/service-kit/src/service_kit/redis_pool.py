"""Redis as every service opens it: bounded waits, and a breaker in front of a dead server.

redis-py's default pool refuses a command at once when its connections are all in use, so
a flash sale's burst looked like Redis being away. Here a command waits for a connection up
to the same bound any Redis call may take (connect and command timeouts alike).

Every command goes through a breaker kept in the process (never in Redis: it guards Redis
itself). After `fail_max` commands in a row could not reach Redis (refused, timed out, no
connection free in time), the next commands fail at once with `RedisUnavailable`, a
`redis.exceptions.ConnectionError`, so code that handles Redis being away keeps working
unchanged, without each request first waiting out a timeout on a stopped server. After
`reset_seconds` one command tries again; its success closes the breaker. Errors Redis
answers (a script's error, a wrong type) say nothing about its health and are not counted.
Pipelines bypass `execute_command`: their callers ask `breaker` themselves.
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError

REDIS_CONNECTIONS = 100
REDIS_TIMEOUT_SECONDS = 2.0
REDIS_BREAKER_FAIL_MAX = 5
REDIS_BREAKER_RESET_SECONDS = 1.0


class RedisUnavailable(RedisConnectionError):
    """Redis's breaker is open: the command was not sent."""


class BreakerRedis(Redis):
    """A Redis client whose every command passes its breaker."""

    breaker: CircuitBreaker

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            with self.breaker.calling():
                return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except CircuitBreakerError as error:
            raise RedisUnavailable(str(error)) from None


def redis_breaker(
    name: str = "redis",
    *,
    fail_max: int = REDIS_BREAKER_FAIL_MAX,
    reset_seconds: float = REDIS_BREAKER_RESET_SECONDS,
) -> CircuitBreaker:
    return CircuitBreaker(
        name,
        fail_max=fail_max,
        reset_timeout_seconds=reset_seconds,
        exclude=(ResponseError, DataError),
    )


def redis_client(
    url: str,
    *,
    max_connections: int = REDIS_CONNECTIONS,
    timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
    breaker: CircuitBreaker | None = None,
) -> BreakerRedis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
    )
    client = cast(BreakerRedis, BreakerRedis.from_pool(pool))
    client.breaker = breaker or redis_breaker()
    return client
