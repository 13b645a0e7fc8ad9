"""Logged-out token ids in Redis until the token would have expired anyway."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from service_kit.errors import DependencyUnavailableError


class RedisRevokedTokens:
    def __init__(self, redis: Redis, key_prefix: str, leeway_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}gateway:revoked-token:"
        # Tokens are accepted this long past `exp`, so they stay listed this long too.
        self._leeway = leeway_seconds

    async def revoke(self, token_id: str, expires_at: int) -> None:
        ttl = max(1, expires_at - int(time.time()) + self._leeway)
        try:
            await self._redis.set(self._prefix + token_id, 1, ex=ttl)
        except Exception as error:
            raise DependencyUnavailableError("Logging out is unavailable; try again") from error

    async def is_revoked(self, token_id: str) -> bool:
        # Fails closed: a logged-out token must not work again while Redis is away.
        try:
            return bool(await self._redis.exists(self._prefix + token_id))
        except Exception as error:
            raise DependencyUnavailableError("Signing in is unavailable; try again") from error


class InMemoryRevokedTokens:
    def __init__(self) -> None:
        self.token_ids: set[str] = set()

    async def revoke(self, token_id: str, expires_at: int) -> None:
        self.token_ids.add(token_id)

    async def is_revoked(self, token_id: str) -> bool:
        return token_id in self.token_ids
