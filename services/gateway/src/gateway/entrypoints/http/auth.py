"""Accounts and tokens."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from gateway.entrypoints.http.deps import (
    API_PREFIX,
    CurrentCaller,
    DefaultRateLimit,
    Services,
    UserAdmin,
    rate_limit,
)
from gateway.entrypoints.http.schemas import RegisterRequest, RoleChange, TokenOut, UserOut
from service_kit.http_errors import error_responses

auth_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
users_router = APIRouter(
    prefix=f"{API_PREFIX}/users", tags=["users"], dependencies=[DefaultRateLimit]
)


@auth_router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    summary="Create an account (role: user)",
    description="Emails are stored in lower case. Weak passwords are refused with 422 and the "
    "reasons; an email that is already registered answers 409.",
    responses=error_responses(409, 413, 422, 429),
    dependencies=[Depends(rate_limit("register", per_address=True))],
)
async def register(body: RegisterRequest, services: Services) -> UserOut:
    user = await services.auth.register(email=body.email, password=body.password, name=body.name)
    return UserOut.of(user)


@auth_router.post(
    "/token",
    response_model=TokenOut,
    summary="Log in: exchange email and password for a bearer token (OAuth2 password flow)",
    description="Send the email as `username`. The token is a JWT with `sub` (user id), `role`, "
    "`exp`, `iat` and `jti`; send it as `Authorization: Bearer <token>`.",
    responses=error_responses(401, 422, 429),
    dependencies=[Depends(rate_limit("login", per_address=True))],
)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], services: Services
) -> TokenOut:
    token = await services.auth.issue_token(email=form.username, password=form.password)
    return TokenOut(
        access_token=token.access_token, token_type=token.token_type, expires_in=token.expires_in
    )


@users_router.get(
    "/me",
    response_model=UserOut,
    summary="The account behind the token",
    responses=error_responses(401, 404, 429),
)
async def me(caller: CurrentCaller, services: Services) -> UserOut:
    return UserOut.of(await services.auth.user(uuid.UUID(caller.user_id)))


@users_router.put(
    "/{user_id}/role",
    response_model=UserOut,
    summary="Grant a role (admin only); takes effect with the user's next token",
    responses=error_responses(401, 403, 404, 422, 429),
)
async def grant_role(
    user_id: uuid.UUID, body: RoleChange, _: UserAdmin, services: Services
) -> UserOut:
    return UserOut.of(await services.auth.grant_role(user_id, body.role))
