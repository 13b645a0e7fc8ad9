"""`POST /api/v1/bookings` answered before FastAPI (issue 21).

In a flash sale nearly every request is a booking, and FastAPI's dependency solving cost the
gateway more than the checks it ran. So this one route is answered by a pure-ASGI handler,
innermost among the middleware: inside the kit's request context and the public edge, its
answers carry the request ids, security and rate-limit headers, metrics and access log line
the route's own answers do. It calls the functions the route's dependencies call, in the
order FastAPI calls them, and its refusals are answered by the app's own exception
handlers, so they are the route's answers, word for word.

- A ticket type the stock already says is sold out: 409 after verifying the token locally
  (signature, expiry, issuer, a role that may book) and nothing more, no revocation check
  or rate limit in Redis, no call to booking-command: the refusal changes nothing. The
  rest of the body is not validated, since no body could book a sold-out type, except one
  that takes up a waitlist offer (`offer_id`): the offer's tickets are held for that fan,
  outside the stock general sale sees, so it gets the full checks and goes on.
- A valid booking with a bearer token: the token verified and checked against revocation
  and the account, the request counted against the route's rate limits, the caller's role
  checked, then the booking forwarded (coalesced with others) and answered as the route
  answers it.
- While the event's waiting room is on, the booking also needs the caller's admission pass
  (`X-Admission-Pass`), checked by the use case the route calls (`book`), after the stock;
  an event without a room costs a lookup in the set of rooms this process keeps, no Redis.
- Anything else (no token, a body that is not a valid booking, an invalid
  `Idempotency-Key`, a body of undeclared length or not JSON) goes on to the route as it
  came, body included, before anything is counted: its problems are answered by the route,
  in the route's words. The route also stays for the OpenAPI document.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.application.bookings import sold_out
from gateway.domain.permissions import Permission, is_allowed
from gateway.entrypoints.http.bookings import BOOKING_RATE_LIMITS, book
from gateway.entrypoints.http.bookings import router as bookings_router
from gateway.entrypoints.http.deps import (
    ADMISSION_PASS_HEADER,
    IDEMPOTENCY_KEY_PATTERN,
    GatewayServices,
    bearer_token,
    caller_with_token,
    count_request,
    ensure_allowed,
    rate_limit_identity,
)
from gateway.entrypoints.http.stand_ins import ErrorHandler, RouteStandIn, route_of
from service_kit.errors import UnauthorizedError
from ticketing_contracts.commands import RequestBooking
from ticketing_contracts.internal_http import IDEMPOTENCY_KEY_HEADER

BOOKINGS_PATH = bookings_router.prefix
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


class BookingRequestFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        services: GatewayServices,
        error_handlers: Mapping[Any, ErrorHandler],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self._services = services
        self._route = RouteStandIn(
            route_of(bookings_router, BOOKINGS_PATH, "POST"), "POST", error_handlers
        )
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
        response = None if body is None else await self._answer(scope, headers, body)
        if response is None:
            await self.app(scope, _replaying(received, receive), send)
            return
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, headers: Headers, body: bytes) -> Response | None:
        """The route's answer, or None when the route should give it."""
        token = await bearer_token(Request(scope))
        if token is None:
            return None  # anonymous: the route counts it per address and refuses it
        document = _json_of(body)
        if (ticket_type_id := await self._sold_out_type(document, token)) is not None:
            self._route.stand_for_route(scope)
            return await self._route.refusal(scope, sold_out(ticket_type_id))
        command = _booking_of(document)
        idempotency_key = headers.get(IDEMPOTENCY_KEY_HEADER)
        if command is None or (
            idempotency_key is not None and not _IDEMPOTENCY_KEY.fullmatch(idempotency_key)
        ):
            return None
        self._route.stand_for_route(scope)
        try:
            return await self._book(
                scope, token, command, idempotency_key, headers.get(ADMISSION_PASS_HEADER)
            )
        except Exception as error:
            return await self._route.refusal(scope, error)

    async def _sold_out_type(self, document: Any, token: str) -> uuid.UUID | None:
        """The ticket type asked for, if the stock says it is sold out and the token's role may
        book. The cheap question comes first: most booking requests are for types with
        tickets left, and those get the full checks."""
        named = _ticket_type_of(document)
        if named is None or not await self._services.bookings.known_sold_out(*named):
            return None
        try:
            claims = self._services.tokens.decode(token)
        except UnauthorizedError:
            return None
        return named[1] if is_allowed(claims.role, Permission.BOOK) else None

    async def _book(
        self,
        scope: Scope,
        token: str,
        command: RequestBooking,
        idempotency_key: str | None,
        admission_pass: str | None,
    ) -> Response:
        """The route's dependencies, in FastAPI's order, then the route itself."""
        services = self._services
        caller = await caller_with_token(services, token)
        identity = rate_limit_identity(caller)
        await count_request(scope, services.rate_limiter, BOOKING_RATE_LIMITS, identity)
        return await book(
            services,
            ensure_allowed(caller, Permission.BOOK),
            command,
            idempotency_key,
            admission_pass,
        )

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


def _json_of(body: bytes) -> Any:
    """The document, read as the route reads it; None when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _ticket_type_of(document: Any) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The event and ticket type a document names, if it names them and takes up no waitlist
    offer; nothing else is checked."""
    if not isinstance(document, dict) or document.get("offer_id") is not None:
        return None
    event_id, ticket_type_id = document.get("event_id"), document.get("ticket_type_id")
    if not (isinstance(event_id, str) and isinstance(ticket_type_id, str)):
        return None
    try:
        return uuid.UUID(event_id), uuid.UUID(ticket_type_id)
    except ValueError:
        return None


def _booking_of(document: Any) -> RequestBooking | None:
    """The booking the route would accept, or None: the route then names the problems."""
    try:
        return RequestBooking.model_validate(document)
    except ValidationError:
        return None


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
