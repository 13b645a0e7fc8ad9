"""Accounts and tokens."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from gateway.application.ports import IssuedToken
from gateway.entrypoints.http.deps import (
    API_PREFIX,
    CurrentCaller,
    DefaultRateLimit,
    Services,
    UserAdmin,
    client_address,
    rate_limit,
)
from gateway.entrypoints.http.schemas import (
    PasswordChange,
    RegisterRequest,
    RoleChange,
    TokenOut,
    UserOut,
)
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
    "reasons; an email that is already registered answers 409. 503 with `Retry-After`: too "
    "many passwords are being hashed at once.\n\n"
    "429 with `Retry-After`: too many sign-ups from your address (`rate_limited`, a generous "
    "hourly allowance), or too many of them named an email that already has an account "
    "(`too_many_failed_sign_ups`).",
    responses=error_responses(400, 409, 413, 422, 429, 503),
    dependencies=[Depends(rate_limit("register", per_address=True))],
)
async def register(request: Request, body: RegisterRequest, services: Services) -> UserOut:
    user = await services.auth.register(
        email=body.email,
        password=body.password,
        name=body.name,
        client_address=client_address(request),
    )
    return UserOut.of(user)


def _token_out(token: IssuedToken) -> TokenOut:
    return TokenOut(
        access_token=token.access_token, token_type=token.token_type, expires_in=token.expires_in
    )


@auth_router.post(
    "/token",
    response_model=TokenOut,
    summary="Log in: exchange email and password for a bearer token (OAuth2 password flow)",
    description="Send the email as `username`. The token is a JWT with `sub` (user id), `role`, "
    "`exp`, `iat`, `jti` and `ver`; send it as `Authorization: Bearer <token>`. The role "
    "that counts is the account's current one, not the one in the token.\n\n"
    "429 with `Retry-After`: too many failed logins from your address "
    "(`too_many_failed_logins`; successful logins are not limited), or for this account "
    "(`rate_limited`: after a few, each failure doubles the wait). 503 with `Retry-After`: "
    "too many logins are being checked at once.",
    responses=error_responses(401, 422, 429, 503),
)
async def issue_token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], services: Services
) -> TokenOut:
    token = await services.auth.issue_token(
        email=form.username, password=form.password, client_address=client_address(request)
    )
    return _token_out(token)


@auth_router.post(
    "/logout",
    status_code=204,
    summary="Log out: the token stops working at once",
    responses=error_responses(401, 429, 503),
    dependencies=[DefaultRateLimit],
)
async def logout(request: Request, caller: CurrentCaller, services: Services) -> Response:
    await services.auth.logout(caller, client_address=client_address(request))
    return Response(status_code=204)


@auth_router.post(
    "/password",
    response_model=TokenOut,
    summary="Change your password: every earlier token stops working; the answer is a new one",
    description="403 `invalid_current_password` when the current password is wrong (failures "
    "count towards the account's login backoff); 422 `weak_password` with the reasons.",
    responses=error_responses(400, 401, 403, 422, 429, 503),
    dependencies=[DefaultRateLimit],
)
async def change_password(
    request: Request, body: PasswordChange, caller: CurrentCaller, services: Services
) -> TokenOut:
    token = await services.auth.change_password(
        caller,
        current_password=body.current_password,
        new_password=body.new_password,
        client_address=client_address(request),
    )
    return _token_out(token)


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
    summary="Grant a role (admin only); takes effect on the user's next request",
    responses=error_responses(400, 401, 403, 404, 422, 429),
)
async def grant_role(
    user_id: uuid.UUID, body: RoleChange, admin: UserAdmin, services: Services
) -> UserOut:
    return UserOut.of(await services.auth.grant_role(user_id, body.role, granted_by=admin))
