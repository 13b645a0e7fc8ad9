"""ASGI middleware of the public API: response headers and the request body limit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFERRED_HEADERS_KEY = "gateway.response_headers"


def security_headers(*, production: bool) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Only framing is restricted: /docs loads Swagger UI's assets from a CDN.
        "Content-Security-Policy": "frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if production:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


def defer_response_headers(scope_state: dict[str, Any], headers: Mapping[str, str]) -> None:
    """Headers a dependency wants on the response, whatever response the route returns."""
    scope_state.setdefault(DEFERRED_HEADERS_KEY, {}).update(headers)


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, static_headers: Mapping[str, str]) -> None:
        self.app = app
        self.static_headers = dict(static_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.static_headers.items():
                    headers.setdefault(name, value)
                deferred = scope.get("state", {}).get(DEFERRED_HEADERS_KEY, {})
                for name, value in deferred.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(HTTPException):
    """Raised from `receive`; the app's error handlers turn it into the 413 error shape."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body larger than {max_bytes} bytes")


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        declared_too_large = declared.isdigit() and int(declared) > self.max_bytes
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            if declared_too_large:
                raise _BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if response_started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "detail": f"Request body larger than {self.max_bytes} bytes",
                "error_type": "payload_too_large",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
