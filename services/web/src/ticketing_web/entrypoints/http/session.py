"""Log in, sign up, log out: the token the gateway issues stays in an httpOnly cookie."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from service_kit.http_errors import error_responses
from ticketing_web.adapters.gateway import Gateway
from ticketing_web.entrypoints.http.cookies import (
    clear_session,
    client_address,
    ensure_csrf_cookie,
    session_token,
    set_session,
)

router = APIRouter(prefix="/session", tags=["session"])
_PASSED_HEADERS = ("retry-after", "www-authenticate")


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


class Credentials(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class SignUp(Credentials):
    name: str = Field(min_length=1, max_length=200)


def relay(answer: httpx.Response) -> Response:
    """The gateway's answer as it is (status, JSON body, Retry-After)."""
    headers = {name: answer.headers[name] for name in _PASSED_HEADERS if name in answer.headers}
    headers["Cache-Control"] = "no-store"
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
        headers=headers,
    )


async def _log_in(request: Request, gateway: GatewayDep, body: Credentials) -> Response:
    issued = await gateway.call(
        "POST",
        "auth/token",
        data={"username": body.email, "password": body.password},
        client_address=client_address(request),
    )
    if issued.status_code != 200:
        return relay(issued)
    token = issued.json()
    me = await gateway.call("GET", "users/me", token=token["access_token"])
    response = relay(me)
    if me.status_code == 200:
        set_session(request, response, token["access_token"], int(token["expires_in"]))
    return response


@router.get(
    "",
    summary="Who is signed in (401 when nobody); also hands out the CSRF cookie",
    responses=error_responses(401),
)
async def current_session(request: Request, gateway: GatewayDep) -> Response:
    token = session_token(request)
    if token is None:
        response = Response(
            b'{"detail":"Not signed in","error_type":"unauthorized"}',
            status_code=401,
            media_type="application/json",
        )
    else:
        response = relay(await gateway.call("GET", "users/me", token=token))
        if response.status_code == 401:
            clear_session(request, response)
    response.headers["Cache-Control"] = "no-store"
    ensure_csrf_cookie(request, response)
    return response


@router.post(
    "/login", summary="Log in with email and password", responses=error_responses(401, 403, 429)
)
async def log_in(request: Request, body: Credentials, gateway: GatewayDep) -> Response:
    return await _log_in(request, gateway, body)


@router.post(
    "/register",
    summary="Create an account, then log in",
    responses=error_responses(403, 409, 422, 429),
)
async def register(request: Request, body: SignUp, gateway: GatewayDep) -> Response:
    created = await gateway.call(
        "POST",
        "auth/register",
        json=body.model_dump(),
        client_address=client_address(request),
    )
    if created.status_code != 201:
        return relay(created)
    return await _log_in(request, gateway, body)


@router.post("/logout", status_code=204, summary="Log out: the token stops working at once")
async def log_out(request: Request, gateway: GatewayDep) -> Response:
    token = session_token(request)
    if token is not None:
        await gateway.call("POST", "auth/logout", token=token)
    response = Response(status_code=204)
    clear_session(request, response)
    return response
