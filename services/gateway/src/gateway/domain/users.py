"""Accounts and the authenticated caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ticketing_contracts.internal_http import Role


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    name: str
    role: Role
    password_hash: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Raised by every password change: tokens issued for an older version stop working.
    token_version: int = 0

    @classmethod
    def new(cls, *, email: str, name: str, role: Role, password_hash: str) -> User:
        return cls(
            id=uuid.uuid4(),
            email=normalise_email(email),
            name=name,
            role=role,
            password_hash=password_hash,
        )


@dataclass(frozen=True)
class Caller:
    """Who is calling, as proven by a valid access token; the role is the account's current one."""

    user_id: str
    role: Role
    token_id: str = ""
    token_expires_at: int = 0
