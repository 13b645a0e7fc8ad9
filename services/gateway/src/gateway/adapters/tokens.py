"""Access tokens as JWTs (HS256 by default, RS256 with a key pair).

A token verified once is remembered with its claims until it expires: every check but the
expiry gives the same result for the same text (signature, algorithm, issuer, claims), and
the issued-at and not-before checks only get easier to pass as time goes on. So a request
with a remembered token pays a dictionary lookup and the expiry check, not the signature
check (about 0.1 ms of CPU with HS256, more with RS256), and gets the answer a fresh
verification would give.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt

from gateway.application.ports import IssuedToken, TokenClaims
from gateway.domain.users import User
from gateway.settings import GatewaySettings
from service_kit.errors import UnauthorizedError
from ticketing_contracts.internal_http import ROLES

REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "role", "iss", "ver"]
# Above an on-sale's crowd (every waiting fan polls with its own token; a crowd larger than
# this would have each poll verified again): about 50 MB. Beyond it, the oldest tenth is
# forgotten and verified again when next seen.
MAX_REMEMBERED = 100_000


class JwtTokens:
    def __init__(
        self,
        *,
        algorithm: str,
        signing_key: str,
        verification_key: str,
        ttl_seconds: int,
        leeway_seconds: int,
        issuer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._algorithm = algorithm
        self._signing_key = signing_key
        self._verification_key = verification_key
        self._ttl = ttl_seconds
        self._leeway = leeway_seconds
        self._issuer = issuer
        self._clock = clock
        self._verified: dict[str, TokenClaims] = {}

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> JwtTokens:
        if settings.jwt_algorithm == "RS256":
            assert settings.jwt_private_key is not None
            assert settings.jwt_public_key is not None
            signing_key = settings.jwt_private_key.get_secret_value()
            verification_key = settings.jwt_public_key
        else:
            signing_key = verification_key = settings.jwt_secret.get_secret_value()
        return cls(
            algorithm=settings.jwt_algorithm,
            signing_key=signing_key,
            verification_key=verification_key,
            ttl_seconds=settings.jwt_ttl_seconds,
            leeway_seconds=settings.jwt_leeway_seconds,
            issuer=settings.jwt_issuer,
        )

    def issue(self, user: User) -> IssuedToken:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user.id),
            "role": user.role,
            "iss": self._issuer,
            "iat": now,
            "exp": now + timedelta(seconds=self._ttl),
            "jti": uuid.uuid4().hex,
            "ver": user.token_version,
        }
        token = jwt.encode(claims, self._signing_key, algorithm=self._algorithm)
        return IssuedToken(access_token=token, expires_in=self._ttl)

    def decode(self, token: str) -> TokenClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= MAX_REMEMBERED:
                self._forget_oldest()
            self._verified[token] = claims
        elif claims.expires_at <= self._clock() - self._leeway:  # as PyJWT compares
            del self._verified[token]
            raise _expired()
        return claims

    def _forget_oldest(self) -> None:
        # Dictionaries keep insertion order: the first keys were verified longest ago.
        for token in list(itertools.islice(self._verified, MAX_REMEMBERED // 10)):
            del self._verified[token]

    def _verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._verification_key,
                # Only the configured algorithm: never the one the token names.
                algorithms=[self._algorithm],
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise _expired() from None
        except jwt.PyJWTError:
            raise UnauthorizedError(
                "The access token is invalid", error_type="invalid_token"
            ) from None
        subject, token_id, version = claims.get("sub"), claims.get("jti"), claims.get("ver")
        role = claims.get("role")
        if (
            role not in ROLES
            or not isinstance(subject, str)
            or not subject
            or not isinstance(token_id, str)
            or not token_id
            or not isinstance(version, int)
        ):
            raise UnauthorizedError("The access token is invalid", error_type="invalid_token")
        return TokenClaims(
            user_id=subject,
            token_id=token_id,
            expires_at=int(claims["exp"]),
            token_version=version,
            role=role,
        )


def _expired() -> UnauthorizedError:
    return UnauthorizedError("The access token has expired", error_type="token_expired")
