"""The public API's own ASGI layer: response headers, the request body limit, and CORS and
gzip only for the requests that need them.

One pure-ASGI layer instead of four: a request without an `Origin` header skips CORS,
and only a GET that accepts gzip goes through compression (command answers are small
JSON), so the hot booking path pays for one wrapper.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
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


class _BodyTooLarge(HTTPException):
    """Raised from `receive`; the app's error handlers turn it into the 413 error shape."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body larger than {max_bytes} bytes")


class PublicEdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        static_headers: Mapping[str, str],
        max_body_bytes: int,
        gzip_minimum_bytes: int,
        cors: Mapping[str, Any],
    ) -> None:
        self.app = app
        self.static_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in static_headers.items()
        ]
        self.max_body_bytes = max_body_bytes
        # CORS stays outermost so even refusals carry its headers.
        compressed = GZipMiddleware(self._core, minimum_size=gzip_minimum_bytes)
        self._compressed = compressed
        self._cors = CORSMiddleware(self._core, **cors)
        self._cors_compressed = CORSMiddleware(compressed, **cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cross_origin = accepts_gzip = False
        for name, value in scope["headers"]:
            if name == b"origin":
                cross_origin = True
            elif name == b"accept-encoding" and b"gzip" in value:
                accepts_gzip = True
        compress = accepts_gzip and scope["method"] in ("GET", "HEAD")
        if cross_origin:
            await (self._cors_compressed if compress else self._cors)(scope, receive, send)
        elif compress:
            await self._compressed(scope, receive, send)
        else:
            await self._core(scope, receive, send)

    async def _core(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Security and deferred headers on every answer; the body limit on every request."""
        declared = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        declared_too_large = declared.isdigit() and int(declared) > self.max_body_bytes
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            if declared_too_large:
                raise _BodyTooLarge(self.max_body_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in self.static_headers:
                    if name not in present:
                        headers.append((name, value))
                deferred = scope.get("state", {}).get(DEFERRED_HEADERS_KEY)
                if deferred:
                    for text_name, text_value in deferred.items():
                        if text_name.lower().encode("latin-1") not in present:
                            headers.append(
                                (text_name.lower().encode("latin-1"), text_value.encode("latin-1"))
                            )
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            if response_started:
                raise
            await self._refuse(send_with_headers)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "detail": f"Request body larger than {self.max_body_bytes} bytes",
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
