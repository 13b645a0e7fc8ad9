"""Security headers on every answer and the CSRF check on every state-changing request."""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing_web.domain.security import CSRF_COOKIE, CSRF_HEADER, csrf_allows, security_headers

_CSRF_FAILED = b'{"detail":"Missing or wrong CSRF token: reload the page and try again","error_type":"csrf_failed"}'  # noqa: E501
_GUARDED_PREFIXES = ("/session", "/api/")


def own_origin(scope: Scope, headers: Headers) -> str:
    host = headers.get("host", "")
    return f"{scope.get('scheme', 'http')}://{host}"


def cookie(headers: Headers, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


class BrowserSecurity:
    def __init__(self, app: ASGIApp, *, always_https: bool) -> None:
        self.app = app
        self.always_https = always_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.always_https or scope.get("scheme") == "https"
        extra = security_headers(https=https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        headers = Headers(scope=scope)
        path: str = scope["path"]
        if path.startswith(_GUARDED_PREFIXES) and not csrf_allows(
            scope["method"],
            cookie_token=cookie(headers, CSRF_COOKIE),
            header_token=headers.get(CSRF_HEADER),
            origin=headers.get("origin"),
            own_origin=own_origin(scope, headers),
        ):
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _CSRF_FAILED})
            return
        await self.app(scope, receive, send_with_headers)
