"""Credentials for calls to the internal services.

Every internal call carries a short-lived token (EdDSA, Ed25519) that its caller signs
with its own private key: audience the target service, issuer the signer, and who calls.

- The gateway (issuer "gateway") calls for people: subject the person's user id and
  their role ("admin", "manager", "user"), or role "anonymous" for a public read it
  forwards (no subject), or role "service" with subject "gateway" for a call of its own,
  such as a booking batch whose items name their own callers.
- An internal service calls for itself: issuer and subject its own name (e.g.
  "inventory"), role "service". It never speaks for a person: a token that names a
  person's role is refused unless the gateway signed it.

A service holds the gateway's public key and those of the services it trusts
(TRUSTED_SERVICE_KEYS), never a private key but its own. A token verifies only with the
key of the issuer it names; an issuer the service does not know is refused. No header
other than `Authorization: Bearer` is believed.

A service's token reaches only the routers made for services (`service_routers` of
`create_service_app`), whose routes name the services they accept; every other internal
route refuses it (403).

Signing and checking cost tens of microseconds; both are cached by key until
shortly before expiry, so the hot path neither signs nor verifies per request.
"""

from __future__ import annotations

import base64
import binascii
import sys
import time
from collections.abc import Mapping
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

from service_kit.errors import ForbiddenError, UnauthorizedError
from ticketing_contracts.internal_http import INTERNAL_SERVICES

GATEWAY_ISSUER: Final = "gateway"
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
    """Who is calling, as a verified token says: a person the gateway names (`id` None
    for anonymous reads), the gateway itself, or an internal service by its name."""

    id: str | None
    role: InternalRole

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_gateway(self) -> bool:
        return self.is_service(GATEWAY_SUBJECT)

    def is_service(self, name: str) -> bool:
        """The service `name` calling for itself with its own token."""
        return self.role == "service" and self.id == name


def service_caller(name: str) -> Caller:
    return Caller(id=name, role="service")


ANONYMOUS: Final = Caller(id=None, role="anonymous")
GATEWAY: Final = service_caller(GATEWAY_SUBJECT)


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
    """Mints tokens signed with one private key, as `issuer`: the gateway (the default,
    for people and itself) or an internal service (only for itself). One token per
    (audience, caller), reused for a few seconds."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        issuer: str = GATEWAY_ISSUER,
        ttl_seconds: int = 60,
        reuse_seconds: float = 10,
    ) -> None:
        if reuse_seconds >= ttl_seconds:
            raise ValueError("a token must be reused for less time than it lives")
        self._key = private_key
        self.issuer = issuer
        self._ttl = ttl_seconds
        self._reuse = reuse_seconds
        self._minted: dict[tuple[str, str | None, str], tuple[str, float]] = {}

    @classmethod
    def from_text(
        cls, private_key: str, *, issuer: str = GATEWAY_ISSUER, ttl_seconds: int = 60
    ) -> InternalTokenIssuer:
        return cls(
            private_key_from_text(private_key),
            issuer=issuer,
            ttl_seconds=ttl_seconds,
            reuse_seconds=min(10.0, ttl_seconds / 2),
        )

    def token(self, audience: str, caller: Caller) -> str:
        if self.issuer != GATEWAY_ISSUER and caller != service_caller(self.issuer):
            raise ValueError(f"{self.issuer}'s key signs only for {self.issuer} itself")
        now = time.time()
        key = (audience, caller.id, caller.role)
        cached = self._minted.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        claims: dict[str, object] = {
            "iss": self.issuer,
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

    def service_authorization(self, audience: str) -> str:
        """The issuer calling `audience` for itself."""
        return self.authorization(audience, service_caller(self.issuer))


class InternalTokenVerifier:
    """Checks tokens in a service: signature with the named issuer's key, audience,
    expiry, and a role that issuer may claim."""

    def __init__(
        self,
        public_key: Ed25519PublicKey,
        audience: str,
        *,
        trusted_services: Mapping[str, Ed25519PublicKey] | None = None,
        leeway_seconds: int = 5,
    ) -> None:
        services = dict(trusted_services or {})
        if GATEWAY_ISSUER in services:
            raise ValueError("the gateway's key is the first argument, not a service's")
        self._keys = {GATEWAY_ISSUER: public_key, **services}
        self._audience = audience
        self._leeway = leeway_seconds
        self._verified: dict[str, tuple[Caller, float]] = {}

    @classmethod
    def from_text(
        cls,
        public_key: str,
        audience: str,
        *,
        trusted_services: Mapping[str, str] | None = None,
        leeway_seconds: int = 5,
    ) -> InternalTokenVerifier:
        return cls(
            public_key_from_text(public_key),
            audience,
            trusted_services={
                name: public_key_from_text(key) for name, key in (trusted_services or {}).items()
            },
            leeway_seconds=leeway_seconds,
        )

    def verify(self, token: str) -> Caller:
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            del self._verified[token]
        try:
            issuer = _unverified_issuer(token)
            key = self._keys.get(issuer)
            if key is None:
                raise UnauthorizedError(f"invalid internal token: unknown issuer {issuer!r}")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise UnauthorizedError(f"invalid internal token: {error}") from None
        caller = _caller_from(claims, issuer)
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = (caller, float(claims["exp"]) + self._leeway)
        return caller


def _unverified_issuer(token: str) -> str:
    """Only to pick the key: the signature is checked with it, the issuer again."""
    issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    return issuer if isinstance(issuer, str) else ""


def _caller_from(claims: dict[str, object], issuer: str) -> Caller:
    role = claims.get("role")
    subject = claims.get("sub")
    if role not in _ROLES:
        raise UnauthorizedError(f"invalid internal token: unknown role {role!r}")
    if subject is not None and (not isinstance(subject, str) or not subject.strip()):
        raise UnauthorizedError("invalid internal token: bad subject")
    if (role == "anonymous") != (subject is None):
        raise UnauthorizedError("invalid internal token: only anonymous callers lack a subject")
    caller = Caller(id=subject, role=role)  # type: ignore[arg-type]  # role checked above
    if issuer == GATEWAY_ISSUER:
        if caller.role == "service" and not caller.is_gateway:
            raise UnauthorizedError("invalid internal token: the gateway speaks for no service")
    elif not caller.is_service(issuer):
        raise UnauthorizedError(
            f"invalid internal token: {issuer}'s key signs only for {issuer} itself"
        )
    return caller


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="InternalToken",
    description=(
        "Short-lived token (EdDSA) the gateway signs for each call, or a trusted service "
        "signs for its own calls"
    ),
)


async def verified_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller of an internal route, whoever signed; 401 without a valid token from the
    gateway or a service this one trusts."""
    verifier: InternalTokenVerifier | None = getattr(request.app.state, "internal_tokens", None)
    if verifier is None or credentials is None:
        raise UnauthorizedError("an internal token is required")
    return verifier.verify(credentials.credentials)


VerifiedCaller = Annotated[Caller, Depends(verified_caller)]


async def internal_caller(caller: VerifiedCaller) -> Caller:
    """The caller of a route for people and the gateway: a service's own token is 403."""
    if caller.role == "service" and not caller.is_gateway:
        raise ForbiddenError(f"{caller.id}'s token is accepted only on routes made for it")
    return caller


InternalCaller = Annotated[Caller, Depends(internal_caller)]


def service_key_names(service: str) -> tuple[str, str]:
    """The variables a service's own key pair is handed out as in `.env` files and
    deployment scripts (the service itself reads SERVICE_TOKEN_PRIVATE_KEY)."""
    prefix = service.upper().replace("-", "_")
    return f"{prefix}_SERVICE_TOKEN_PRIVATE_KEY", f"{prefix}_SERVICE_TOKEN_PUBLIC_KEY"


def key_pair_variables(service: str | None = None) -> dict[str, str]:
    """A new key pair as variables: the gateway's, or `service`'s own."""
    if service is not None and service not in INTERNAL_SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {sorted(INTERNAL_SERVICES)}")
    names = (
        service_key_names(service)
        if service
        else ("INTERNAL_TOKEN_PRIVATE_KEY", "INTERNAL_TOKEN_PUBLIC_KEY")
    )
    return dict(zip(names, generate_key_pair(), strict=True))


if __name__ == "__main__":
    # python -m service_kit.internal_auth [SERVICE]: the gateway's pair, or SERVICE's own.
    try:
        variables = key_pair_variables(sys.argv[1] if len(sys.argv) > 1 else None)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    for name, value in variables.items():
        print(f"{name}={value}")
