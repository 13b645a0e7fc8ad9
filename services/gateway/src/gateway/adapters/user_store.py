"""Users in the gateway's own PostgreSQL database, and an in-memory twin for tests."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from gateway.domain.users import User
from service_kit.errors import ConflictError
from ticketing_contracts.internal_http import Role

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'manager', 'user')),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE gateway_users ADD COLUMN IF NOT EXISTS token_version integer NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS gateway_revoked_tokens (
    token_id     text        PRIMARY KEY,
    forget_after timestamptz NOT NULL,
    revoked_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS gateway_revoked_tokens_by_time ON gateway_revoked_tokens (revoked_at);
CREATE INDEX IF NOT EXISTS gateway_revoked_tokens_by_expiry
    ON gateway_revoked_tokens (forget_after);
"""
# Replicas starting together must not race on CREATE TABLE.
_SCHEMA_LOCK_ID = 0x6761746577617931
_SELECT = (
    "SELECT id, email, name, role, password_hash, created_at, token_version FROM gateway_users"
)
_INSERT = (
    "INSERT INTO gateway_users (id, email, name, role, password_hash, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)
_SET_ROLE = (
    "UPDATE gateway_users SET role = $2, updated_at = now() WHERE id = $1 "
    "RETURNING id, email, name, role, password_hash, created_at, token_version"
)
_NEW_CREDENTIALS = (
    "UPDATE gateway_users SET password_hash = $2, token_version = token_version + 1, "
    "updated_at = now() WHERE id = $1 "
    "RETURNING id, email, name, role, password_hash, created_at, token_version"
)

EMAIL_TAKEN = "An account with this email already exists"


def _user(row: Any) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        token_version=row["token_version"],
    )


async def ensure_database(dsn: str) -> None:
    """Create the database named in `dsn` when it does not exist yet (local runs, tests)."""
    try:
        connection = await asyncpg.connect(dsn, timeout=5)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await connection.close()
        return
    name = dsn.rsplit("/", 1)[1].split("?", 1)[0]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres", timeout=5)
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await admin.execute(f"CREATE DATABASE {quoted}")
        logger.info("created database %s", name)
    except asyncpg.DuplicateDatabaseError:
        pass
    finally:
        await admin.close()


class PostgresUserRepository:
    def __init__(self, dsn: str, pool_size: int) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the user store is not open")
        return self._pool

    async def open(self, *, wait_seconds: float = 30) -> None:
        """Connect (waiting a bounded time for PostgreSQL) and create the schema."""
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(wait_seconds),
            wait=wait_fixed(1),
            retry=retry_if_exception_type((OSError, asyncpg.CannotConnectNowError)),
            reraise=True,
        ):
            with attempt:
                await ensure_database(self._dsn)
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=self._pool_size, command_timeout=10
                )
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK_ID)
            await connection.execute(SCHEMA)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        async with self.pool.acquire(timeout=2) as connection:
            await connection.fetchval("SELECT 1")

    async def add(self, user: User) -> None:
        try:
            await self.pool.execute(
                _INSERT,
                user.id,
                user.email,
                user.name,
                user.role,
                user.password_hash,
                user.created_at,
            )
        except asyncpg.UniqueViolationError:
            raise ConflictError(EMAIL_TAKEN, error_type="email_already_registered") from None

    async def by_email(self, email: str) -> User | None:
        if "\x00" in email:
            # PostgreSQL text cannot hold NUL, so no stored email has one.
            return None
        row = await self.pool.fetchrow(_SELECT + " WHERE email = $1", email)
        return None if row is None else _user(row)

    async def by_id(self, user_id: uuid.UUID) -> User | None:
        row = await self.pool.fetchrow(_SELECT + " WHERE id = $1", user_id)
        return None if row is None else _user(row)

    async def set_role(self, user_id: uuid.UUID, role: Role) -> User | None:
        row = await self.pool.fetchrow(
            _SET_ROLE,
            user_id,
            role,
        )
        return None if row is None else _user(row)

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self.pool.execute(
            "UPDATE gateway_users SET password_hash = $2, updated_at = now() WHERE id = $1",
            user_id,
            password_hash,
        )

    async def replace_password(self, user_id: uuid.UUID, password_hash: str) -> User | None:
        row = await self.pool.fetchrow(_NEW_CREDENTIALS, user_id, password_hash)
        return None if row is None else _user(row)


class InMemoryUserRepository:
    def __init__(self) -> None:
        self.users: dict[uuid.UUID, User] = {}

    async def add(self, user: User) -> None:
        if any(existing.email == user.email for existing in self.users.values()):
            raise ConflictError(EMAIL_TAKEN, error_type="email_already_registered")
        self.users[user.id] = user

    async def by_email(self, email: str) -> User | None:
        return next((user for user in self.users.values() if user.email == email), None)

    async def by_id(self, user_id: uuid.UUID) -> User | None:
        return self.users.get(user_id)

    async def set_role(self, user_id: uuid.UUID, role: Role) -> User | None:
        if user_id not in self.users:
            return None
        self.users[user_id] = replace(self.users[user_id], role=role)
        return self.users[user_id]

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        if user_id in self.users:
            self.users[user_id] = replace(self.users[user_id], password_hash=password_hash)

    async def replace_password(self, user_id: uuid.UUID, password_hash: str) -> User | None:
        user = self.users.get(user_id)
        if user is None:
            return None
        user = replace(user, password_hash=password_hash, token_version=user.token_version + 1)
        self.users[user_id] = user
        return user
