"""Sold-out answers to booking requests, given before FastAPI (issue 21).

A booking for a ticket type the stock already says is sold out changes nothing, so it is
answered after verifying the token locally (signature, expiry, issuer, a role that may
book) and nothing more: no revocation check or rate limit in Redis, no dependency solving,
no call to booking-command. The answer depends only on who asks and which event and ticket
type the JSON body names; the rest of the body is not validated, since no body could book
a sold-out type. Every other request (no token or a bad one, a body naming no ticket type,
a type with tickets left or of unknown stock) goes on to the route as it came, body
included, and meets revocation and rate limits there.

It sits innermost among the middleware, inside the kit's request context and the public
edge, so its answers carry the request ids, security headers, metrics and access log line
the route's own answers do.
"""

from __future__ import annotations

import json
import uuid

from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.application.bookings import BookingService, sold_out
from gateway.application.ports import TokenCodec
from gateway.domain.permissions import Permission, is_allowed
from gateway.entrypoints.http.bookings import router as bookings_router
from gateway.entrypoints.http.deps import API_PREFIX
from service_kit.errors import UnauthorizedError
from service_kit.http_errors import error_body, status_for

BOOKINGS_PATH = f"{API_PREFIX}/bookings"


def booking_request_route() -> APIRoute:
    """The route whose answers these stand for; routing puts this same object in the scope."""
    for route in bookings_router.routes:
        if (
            isinstance(route, APIRoute)
            and route.path == BOOKINGS_PATH
            and "POST" in (route.methods or ())
        ):
            return route
    raise LookupError(f"no POST {BOOKINGS_PATH} route")


class SoldOutFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenCodec,
        bookings: BookingService,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self._tokens = tokens
        self._bookings = bookings
        self._route = booking_request_route()
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != BOOKINGS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self._readable_json(headers):
            await self.app(scope, receive, send)
            return
        body, received = await _read_body(receive)
        ticket_type_id = None if body is None else await self._sold_out_type(headers, body)
        if ticket_type_id is None:
            await self.app(scope, _replaying(received, receive), send)
            return
        error = sold_out(ticket_type_id)
        response = JSONResponse(
            error_body(error.detail, error.error_type), status_code=status_for(error)
        )
        # The kit's metrics and access log name the route's template, as for its own answers.
        scope["route"] = self._route
        await response(scope, receive, send)

    async def _sold_out_type(self, headers: Headers, body: bytes) -> uuid.UUID | None:
        """The ticket type asked for, if the stock says it is sold out and the caller may
        book. The cheap question comes first: most booking requests are for types with
        tickets left, and the route checks those in full."""
        named = _ticket_type_of(body)
        if named is None or not await self._bookings.known_sold_out(*named):
            return None
        return named[1] if self._may_book(headers) else None

    def _may_book(self, headers: Headers) -> bool:
        scheme, token = get_authorization_scheme_param(headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            return False
        try:
            claims = self._tokens.decode(token)
        except UnauthorizedError:
            return False
        return is_allowed(claims.role, Permission.BOOK)

    def _readable_json(self, headers: Headers) -> bool:
        """JSON of a declared length the public edge accepts: its limit raises from `receive`,
        and only the route turns that into a 413."""
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        length = headers.get("content-length", "")
        return (
            media_type == "application/json"
            and length.isdigit()
            and int(length) <= self._max_body_bytes
        )


async def _read_body(receive: Receive) -> tuple[bytes | None, list[Message]]:
    """The whole body (None if the client went away first) and the messages it came in."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), messages


def _ticket_type_of(body: bytes) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The event and ticket type a body names, if it names them; nothing else is checked."""
    try:
        named = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(named, dict):
        return None
    event_id, ticket_type_id = named.get("event_id"), named.get("ticket_type_id")
    if not (isinstance(event_id, str) and isinstance(ticket_type_id, str)):
        return None
    try:
        return uuid.UUID(event_id), uuid.UUID(ticket_type_id)
    except ValueError:
        return None


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
