"""What the use cases need from the outside world."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.domain.users import Caller, User
from ticketing_contracts.internal_http import Role

QueryParams = Mapping[str, str | int | float | None]


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Store a new user; ConflictError when the email is taken."""

    async def by_email(self, email: str) -> User | None: ...

    async def by_id(self, user_id: uuid.UUID) -> User | None: ...

    async def set_role(self, user_id: uuid.UUID, role: Role) -> User | None: ...

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password: str, password_hash: str) -> bool: ...


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)


class TokenCodec(Protocol):
    def issue(self, user: User) -> IssuedToken: ...

    def decode(self, token: str) -> Caller:
        """The caller the token proves; UnauthorizedError when it proves nothing."""


@dataclass(frozen=True)
class DownstreamResponse:
    status_code: int
    content: bytes
    etag: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


class Downstream(Protocol):
    """One internal service. Error answers are raised as service-kit DomainErrors."""

    name: str

    async def request(
        self,
        method: str,
        path: str,
        *,
        caller: Caller | None = None,
        params: QueryParams | None = None,
        body: bytes | None = None,
        idempotency_key: str | None = None,
        if_none_match: str | None = None,
        as_gateway: bool = False,
    ) -> DownstreamResponse:
        """`as_gateway` sends the gateway's own credential instead of the caller's (a booking
        batch, whose items name their callers)."""
        ...

    def answer(
        self, status_code: int, content: bytes, headers: Mapping[str, str] | None = None
    ) -> DownstreamResponse:
        """What `request` returns (or raises) for this answer of the service."""
        ...


@dataclass(frozen=True)
class ReadMarks:
    caller: int
    issued: int


class ReadPositions(Protocol):
    """The highest write position each caller has seen acknowledged."""

    async def remember(self, caller_id: str, position: int) -> None: ...

    async def remember_many(self, positions: Mapping[str, int]) -> None:
        """`remember` for several callers at once (one round trip)."""
        ...

    async def latest(self, caller_id: str) -> int: ...

    async def marks(self, caller_id: str) -> ReadMarks:
        """The caller's latest position and the highest acknowledged to anyone (one round trip)."""
        ...
