"""The pages' way to the gateway's public API: the session cookie becomes a bearer token."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from ticketing_web.domain.security import proxyable
from ticketing_web.entrypoints.http.cookies import client_address, session_token
from ticketing_web.entrypoints.http.session import GatewayDep

router = APIRouter(tags=["api"])

_REQUEST_HEADERS = (
    "content-type",
    "accept",
    "idempotency-key",
    "if-none-match",
    "x-read-position",
    "x-admission-pass",
)
_RESPONSE_HEADERS = (
    "content-type",
    "content-disposition",
    "etag",
    "location",
    "retry-after",
    "cache-control",
    "x-read-position",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
)
_NOT_FOUND = b'{"detail":"Not Found","error_type":"not_found"}'


@router.api_route(
    "/api/v1/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    summary="The gateway's public API (except the auth routes: use /session)",
    include_in_schema=False,
)
async def gateway_api(path: str, request: Request, gateway: GatewayDep) -> Response:
    if not proxyable(path):
        return Response(_NOT_FOUND, status_code=404, media_type="application/json")
    headers = {name: request.headers[name] for name in _REQUEST_HEADERS if name in request.headers}
    answer = await gateway.open(
        request.method,
        path,
        token=session_token(request),
        client_address=client_address(request),
        headers=headers,
        params=httpx.QueryParams(list(request.query_params.multi_items())),
        content=await request.body() if request.method in ("POST", "PUT", "PATCH") else None,
    )
    kept = {name: answer.headers[name] for name in _RESPONSE_HEADERS if name in answer.headers}
    if answer.headers.get("content-type", "").startswith("text/event-stream"):
        kept["X-Accel-Buffering"] = "no"
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=kept,
            background=BackgroundTask(answer.aclose),
        )
    try:
        content = await answer.aread()
    finally:
        await answer.aclose()
    return Response(content, status_code=answer.status_code, headers=kept)
