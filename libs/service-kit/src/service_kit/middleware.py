"""One ASGI middleware for request ids, access logs, metrics and last-resort errors.

Written as plain ASGI rather than BaseHTTPMiddleware: it runs on every request
of the hot booking path, and it must see the route template after routing.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS
from service_kit.request_context import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    accept_id,
    correlation_id_var,
    new_id,
    request_id_var,
)

access_logger = logging.getLogger("service_kit.access")
error_logger = logging.getLogger("service_kit.errors")

_QUIET_PREFIXES = ("/health", "/metrics")
_INTERNAL_ERROR = json.dumps(
    {"detail": "Internal server error", "error_type": "internal_error"}
).encode()


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = {key.decode("latin-1").lower(): value for key, value in scope["headers"]}
        request_id = accept_id(_header(headers, REQUEST_ID_HEADER)) or new_id()
        correlation_id = accept_id(_header(headers, CORRELATION_ID_HEADER)) or request_id
        request_token = request_id_var.set(request_id)
        correlation_token = correlation_id_var.set(correlation_id)
        id_headers = [
            (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
            (CORRELATION_ID_HEADER.lower().encode(), correlation_id.encode()),
        ]
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_ids(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), *id_headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            error_logger.exception(
                "unhandled error", extra={"method": scope["method"], "route": route_template(scope)}
            )
            if response_started:
                raise
            status = 500
            await send_with_ids(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            request_id_var.reset(request_token)
            correlation_id_var.reset(correlation_token)

    @staticmethod
    def _observe(scope: Scope, status: int, duration: float) -> None:
        route = route_template(scope)
        method = scope["method"]
        HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
        HTTP_REQUEST_DURATION.labels(method=method, route=route).observe(duration)
        level = logging.DEBUG if scope["path"].startswith(_QUIET_PREFIXES) else logging.INFO
        if access_logger.isEnabledFor(level):
            extra: dict[str, Any] = {
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(duration * 1000, 3),
            }
            access_logger.log(level, "request handled", extra=extra)


def _header(headers: dict[str, bytes], name: str) -> str | None:
    value = headers.get(name.lower())
    return value.decode("latin-1") if value is not None else None
