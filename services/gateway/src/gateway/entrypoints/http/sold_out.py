"""Sold-out answers to booking requests, given before FastAPI (issue 21).

A booking for a ticket type the stock already says is sold out changes nothing, so it is
answered after verifying the token locally (signature, expiry, issuer, a role that may
book) and nothing more: no revocation check or rate limit in Redis, no dependency solving,
no call to booking-command. Every other request (no token or a bad one, a body the route
would refuse, a type with tickets left or of unknown stock) goes on to the route as it
came, body included, and meets revocation and rate limits there.

It sits innermost among the middleware, inside the kit's request context and the public
edge, so its answers carry the request ids, security headers, metrics and access log line
the route's own answers do.
"""

from __future__ import annotations

import json
import re
import uuid

from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.application.bookings import BookingService, sold_out
from gateway.application.ports import TokenCodec
from gateway.domain.permissions import Permission, is_allowed
from gateway.entrypoints.http.bookings import router as bookings_router
from gateway.entrypoints.http.deps import API_PREFIX, IDEMPOTENCY_KEY_PATTERN
from service_kit.errors import UnauthorizedError
from service_kit.http_errors import error_body, status_for
from ticketing_contracts.commands import RequestBooking

BOOKINGS_PATH = f"{API_PREFIX}/bookings"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


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
        if not self._plain_request(headers):
            await self.app(scope, receive, send)
            return
        body, received = await _read_body(receive)
        command = None if body is None else await self._sold_out_booking(headers, body)
        if command is None:
            await self.app(scope, _replaying(received, receive), send)
            return
        error = sold_out(command.ticket_type_id)
        response = JSONResponse(
            error_body(error.detail, error.error_type), status_code=status_for(error)
        )
        # The kit's metrics and access log name the route's template, as for its own answers.
        scope["route"] = self._route
        await response(scope, receive, send)

    async def _sold_out_booking(self, headers: Headers, body: bytes) -> RequestBooking | None:
        """The request, if it is one the route would accept, from a caller who may book, for
        a type the stock says is sold out. The cheap question comes first: most booking
        requests are for types with tickets left, and the route checks them all again."""
        ticket_type = _ticket_type_of(body)
        if ticket_type is None or not await self._bookings.known_sold_out(*ticket_type):
            return None
        if not self._may_book(headers):
            return None
        return _booking(body)

    def _may_book(self, headers: Headers) -> bool:
        scheme, token = get_authorization_scheme_param(headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            return False
        try:
            claims = self._tokens.decode(token)
        except UnauthorizedError:
            return False
        return is_allowed(claims.role, Permission.BOOK)

    def _plain_request(self, headers: Headers) -> bool:
        """JSON of a declared length the public edge accepts (its limit raises from `receive`,
        which only the route turns into a 413), and no header the route would refuse."""
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        length = headers.get("content-length", "")
        key = headers.get("idempotency-key")
        return (
            media_type == "application/json"
            and length.isdigit()
            and int(length) <= self._max_body_bytes
            and (key is None or _IDEMPOTENCY_KEY.match(key) is not None)
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


def _booking(body: bytes) -> RequestBooking | None:
    """The booking request if the route would accept the body, else None.

    The route parses JSON, then validates; validating the JSON text in one step accepts and
    refuses the same bodies for this model (strings, numbers, no JSON-only conversions) at
    two thirds of the cost.
    """
    try:
        return RequestBooking.model_validate_json(body)
    except ValidationError:
        return None


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
