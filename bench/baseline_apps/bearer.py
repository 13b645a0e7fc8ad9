"""The bearer-token check both baselines make, as the gateway makes it.

The gateway's JWT (HS256 with the platform's JWT_SECRET), verified with the gateway's
issuer, leeway, required claims and claim checks, so a baseline pays what the platform
pays to know who books. The gateway also looks the user up (revocation, token version);
a baseline has no user table, so it stops at the token.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import jwt
from fastapi import Depends, Header, HTTPException

from gateway.adapters.tokens import REQUIRED_CLAIMS
from ticketing_contracts.internal_http import ROLES

SECRET = os.environ["BENCH_JWT_SECRET"]
ISSUER = os.environ["BENCH_JWT_ISSUER"]
LEEWAY_SECONDS = int(os.environ["BENCH_JWT_LEEWAY_SECONDS"])


def _unauthorized() -> HTTPException:
    return HTTPException(401, "The access token is invalid", headers={"WWW-Authenticate": "Bearer"})


def _nonempty_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


async def caller_id(authorization: Annotated[str | None, Header()] = None) -> str:
    """The user id the bearer token proves; 401 for a missing, forged or expired token."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized()
    try:
        claims = jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        raise _unauthorized() from None
    if (
        claims.get("role") not in ROLES
        or not _nonempty_text(claims.get("sub"))
        or not _nonempty_text(claims.get("jti"))
        or not isinstance(claims.get("ver"), int)
    ):
        raise _unauthorized()
    return str(claims["sub"])


CallerId = Annotated[str, Depends(caller_id)]
