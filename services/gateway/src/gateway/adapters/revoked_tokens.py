"""Logged-out token ids in the gateway's PostgreSQL until the token would have expired anyway."""

from __future__ import annotations

import time

from gateway.adapters.user_store import PostgresUserRepository

_ADD = (
    "INSERT INTO gateway_revoked_tokens (token_id, forget_after) VALUES ($1, to_timestamp($2)) "
    "ON CONFLICT (token_id) DO NOTHING"
)
_READ_FROM = "SELECT extract(epoch FROM clock_timestamp())::float8"
_REVOKED_SINCE = (
    "SELECT token_id, extract(epoch FROM forget_after)::float8 AS forget_after "
    "FROM gateway_revoked_tokens WHERE forget_after > now() "
    "AND ($1::float8 IS NULL OR revoked_at >= to_timestamp($1::float8))"
)
_FORGET_EXPIRED = "DELETE FROM gateway_revoked_tokens WHERE forget_after < now()"


class PostgresRevokedTokens:
    """The table lives beside the users (`user_store.SCHEMA`), in the same pool."""

    def __init__(self, users: PostgresUserRepository) -> None:
        self._users = users

    async def add(self, token_id: str, forget_after: float) -> None:
        await self._users.pool.execute(_ADD, token_id, forget_after)

    async def revoked_since(self, since: float | None) -> tuple[dict[str, float], float]:
        async with self._users.pool.acquire() as connection:
            read_at: float = await connection.fetchval(_READ_FROM)
            rows = await connection.fetch(_REVOKED_SINCE, since)
        return {row["token_id"]: row["forget_after"] for row in rows}, read_at

    async def forget_expired(self) -> None:
        await self._users.pool.execute(_FORGET_EXPIRED)


class InMemoryRevokedTokenStore:
    def __init__(self) -> None:
        self.revoked: dict[str, tuple[float, float]] = {}  # id -> (revoked at, forget after)
        self.unavailable = False

    def _check(self) -> None:
        if self.unavailable:
            raise ConnectionError("the store is unavailable")

    async def add(self, token_id: str, forget_after: float) -> None:
        self._check()
        self.revoked.setdefault(token_id, (time.time(), forget_after))

    async def revoked_since(self, since: float | None) -> tuple[dict[str, float], float]:
        self._check()
        read_at, now = time.time(), time.time()
        return {
            token_id: forget_after
            for token_id, (revoked_at, forget_after) in self.revoked.items()
            if forget_after > now and (since is None or revoked_at >= since)
        }, read_at

    async def forget_expired(self) -> None:
        self._check()
        now = time.time()
        self.revoked = {k: v for k, v in self.revoked.items() if v[1] >= now}


class InMemoryRevokedTokens:
    def __init__(self) -> None:
        self.token_ids: set[str] = set()

    async def revoke(self, token_id: str, expires_at: int) -> None:
        self.token_ids.add(token_id)

    async def is_revoked(self, token_id: str) -> bool:
        return token_id in self.token_ids
