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

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Store a rehash of the same password (stronger parameters); tokens stay valid."""

    async def replace_password(self, user_id: uuid.UUID, password_hash: str) -> User | None:
        """Store a new password and raise the token version, ending every earlier token."""


class PasswordHasher(Protocol):
    """Hashing that may refuse work when it is saturated (PasswordHashingBusyError)."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether the password matches, and a rehash when the stored parameters are outdated."""
        ...


class LoginThrottle(Protocol):
    """Failed logins per account, shared by replicas, with exponential backoff."""

    async def retry_after(self, account: str) -> int:
        """Seconds until `account` may try again; 0 when it may try now."""
        ...

    async def record_failure(self, account: str) -> int:
        """Count a failed login; the seconds the account must now wait (0 for none)."""
        ...

    async def reset(self, account: str) -> None: ...


class AddressFailureLimit(Protocol):
    """Failures of one kind (e.g. failed logins) per client address, shared by replicas."""

    async def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may try now."""
        ...

    async def record_failure(self, address: str) -> None: ...


class RevokedTokens(Protocol):
    """Token ids that stop working before they expire (logout)."""

    async def revoke(self, token_id: str, expires_at: int) -> None: ...

    async def is_revoked(self, token_id: str) -> bool: ...


class RevokedTokenStore(Protocol):
    """Where logouts are kept durably (PostgreSQL), read by every replica."""

    async def add(self, token_id: str, forget_after: float) -> None:
        """Revokes the token until `forget_after` (epoch seconds)."""
        ...

    async def revoked_since(self, since: float | None) -> tuple[dict[str, float], float]:
        """Ids revoked from `since` on (all, with None) and still to be kept, each with its
        `forget_after`; and the store's own time when the read began (the next `since`)."""
        ...

    async def forget_expired(self) -> None: ...


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    token_id: str
    expires_at: int
    token_version: int
    # The account's role when the token was issued; requests that change state use the
    # account's current role instead.
    role: Role


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)


class TokenCodec(Protocol):
    def issue(self, user: User) -> IssuedToken: ...

    def decode(self, token: str) -> TokenClaims:
        """What the token proves; UnauthorizedError when it proves nothing."""


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
