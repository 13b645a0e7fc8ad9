"""`GET /api/v1/waiting-room/places/{place_token}` answered before FastAPI's routing (issue 22).

Twenty thousand fans poll their places during an on-sale; FastAPI's routing through every
router cost more than the poll's own work (its one Redis call included). So, as for booking
requests (`booking_requests.py`), a pure-ASGI handler innermost among the middleware answers
it with the route's own function (`place_response`), names the route for metrics, the access
log and the trace, and answers errors with the app's exception handlers: the same answers.
A stream (`Accept: text/event-stream`) and a token longer than the route accepts go on to the
route, which also documents the operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.adapters.waiting_room_tokens import MAX_TOKEN_LENGTH
from gateway.entrypoints.http.deps import GatewayServices
from gateway.entrypoints.http.stand_ins import ErrorHandler, RouteStandIn, route_of
from gateway.entrypoints.http.waiting_room import (
    PLACE_PATH,
    place_response,
    router,
    wants_stream,
)

PLACES = router.prefix + PLACE_PATH.removesuffix("{place_token}")


class PlacePolls:
    def __init__(
        self,
        app: ASGIApp,
        *,
        services: GatewayServices,
        error_handlers: Mapping[Any, ErrorHandler],
    ) -> None:
        self.app = app
        self._services = services
        self._route = RouteStandIn(
            route_of(router, router.prefix + PLACE_PATH, "GET"), "GET", error_handlers
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        token = path.removeprefix(PLACES)
        if (
            scope.get("method") != "GET"
            or token == path
            or not 0 < len(token) <= MAX_TOKEN_LENGTH
            or "/" in token
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if wants_stream(headers.get("accept", "")):
            await self.app(scope, receive, send)
            return
        self._route.stand_for_route(scope)
        try:
            response = await place_response(self._services, token, headers.get("authorization", ""))
        except Exception as error:
            response = await self._route.refusal(scope, error)
        await response(scope, receive, send)
