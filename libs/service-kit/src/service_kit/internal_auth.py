"""Credentials for calls from the gateway to the internal services.

The gateway signs a short-lived token (EdDSA, Ed25519) for each downstream call:
issuer "gateway", audience the target service, subject the caller's user id, and
the caller's role. The services hold only the public key, so they can check a
token but never mint one. No header other than `Authorization: Bearer` is believed.

Roles: "admin", "manager", "user" (a signed-in person), "anonymous" (a public read
the gateway forwards, no subject) and "service" (the gateway itself, subject
"gateway", for calls such as a booking batch whose items name their own callers).

Signing and checking cost tens of microseconds; both are cached by key until
shortly before expiry, so the hot path neither signs nor verifies per request.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Annotated, Final, Literal, get_args

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service_kit.errors import UnauthorizedError

ISSUER: Final = "gateway"
GATEWAY_SUBJECT: Final = "gateway"
ALGORITHM: Final = "EdDSA"
KEY_BYTES: Final = 32

InternalRole = Literal["admin", "manager", "user", "anonymous", "service"]
_ROLES: Final = frozenset(get_args(InternalRole))
_CACHE_LIMIT: Final = 10_000


class InvalidKeyError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the gateway says is calling; `id` is None for anonymous reads."""

    id: str | None
    role: InternalRole

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_gateway(self) -> bool:
        return self.role == "service" and self.id == GATEWAY_SUBJECT


ANONYMOUS: Final = Caller(id=None, role="anonymous")
GATEWAY: Final = Caller(id=GATEWAY_SUBJECT, role="service")


def _decode_key(value: str, what: str) -> bytes:
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidKeyError(f"{what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise InvalidKeyError(f"{what} must be {KEY_BYTES} bytes (got {len(raw)})")
    if len(set(raw)) <= 4:
        raise InvalidKeyError(f"{what} is not random; generate a key pair")
    return raw


def private_key_from_text(value: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_decode_key(value, "the private key"))


def public_key_from_text(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_decode_key(value, "the public key"))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def generate_key_pair() -> tuple[str, str]:
    """A new (private, public) key pair as base64url text, for settings and Secrets."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _text(private), _text(public)


def public_key_text_of(private_key: str) -> str:
    public = private_key_from_text(private_key).public_key()
    return _text(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


class InternalTokenIssuer:
    """Mints tokens in the gateway; one per (audience, caller), reused for a few seconds."""

    def __init__(
        self, private_key: Ed25519PrivateKey, *, ttl_seconds: int = 60, reuse_seconds: float = 10
    ) -> None:
        if reuse_seconds >= ttl_seconds:
            raise ValueError("a token must be reused for less time than it lives")
        self._key = private_key
        self._ttl = ttl_seconds
        self._reuse = reuse_seconds
        self._minted: dict[tuple[str, str | None, str], tuple[str, float]] = {}

    @classmethod
    def from_text(cls, private_key: str, *, ttl_seconds: int = 60) -> InternalTokenIssuer:
        return cls(
            private_key_from_text(private_key),
            ttl_seconds=ttl_seconds,
            reuse_seconds=min(10.0, ttl_seconds / 2),
        )

    def token(self, audience: str, caller: Caller) -> str:
        now = time.time()
        key = (audience, caller.id, caller.role)
        cached = self._minted.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": audience,
            "role": caller.role,
            "iat": int(now),
            "exp": int(now) + self._ttl,
        }
        if caller.id is not None:
            claims["sub"] = caller.id
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        if len(self._minted) >= _CACHE_LIMIT:
            self._minted.clear()
        self._minted[key] = (token, now + self._reuse)
        return token

    def authorization(self, audience: str, caller: Caller) -> str:
        return f"Bearer {self.token(audience, caller)}"


class InternalTokenVerifier:
    """Checks tokens in a service: signature, issuer, audience, expiry, role."""

    def __init__(
        self, public_key: Ed25519PublicKey, audience: str, *, leeway_seconds: int = 5
    ) -> None:
        self._key = public_key
        self._audience = audience
        self._leeway = leeway_seconds
        self._verified: dict[str, tuple[Caller, float]] = {}

    @classmethod
    def from_text(
        cls, public_key: str, audience: str, *, leeway_seconds: int = 5
    ) -> InternalTokenVerifier:
        return cls(public_key_from_text(public_key), audience, leeway_seconds=leeway_seconds)

    def verify(self, token: str) -> Caller:
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            del self._verified[token]
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise UnauthorizedError(f"invalid internal token: {error}") from None
        caller = _caller_from(claims)
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = (caller, float(claims["exp"]) + self._leeway)
        return caller


def _caller_from(claims: dict[str, object]) -> Caller:
    role = claims.get("role")
    subject = claims.get("sub")
    if role not in _ROLES:
        raise UnauthorizedError(f"invalid internal token: unknown role {role!r}")
    if subject is not None and (not isinstance(subject, str) or not subject.strip()):
        raise UnauthorizedError("invalid internal token: bad subject")
    if (role == "anonymous") != (subject is None):
        raise UnauthorizedError("invalid internal token: only anonymous callers lack a subject")
    caller = Caller(id=subject, role=role)  # type: ignore[arg-type]  # role checked above
    if caller.role == "service" and not caller.is_gateway:
        raise UnauthorizedError("invalid internal token: unknown service")
    return caller


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="InternalToken",
    description="Short-lived token the gateway signs for each call (EdDSA)",
)


async def internal_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The verified caller of an internal route; 401 without a valid gateway token."""
    verifier: InternalTokenVerifier | None = getattr(request.app.state, "internal_tokens", None)
    if verifier is None or credentials is None:
        raise UnauthorizedError("an internal token from the gateway is required")
    return verifier.verify(credentials.credentials)


InternalCaller = Annotated[Caller, Depends(internal_caller)]


if __name__ == "__main__":
    private_text, public_text = generate_key_pair()
    print(f"INTERNAL_TOKEN_PRIVATE_KEY={private_text}")
    print(f"INTERNAL_TOKEN_PUBLIC_KEY={public_text}")
