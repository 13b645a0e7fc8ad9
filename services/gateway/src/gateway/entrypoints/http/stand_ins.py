"""Answering a route's requests before FastAPI, as the route would: the hot routes (booking
requests, place polls) are answered by pure-ASGI handlers innermost among the middleware,
because FastAPI's routing and dependency solving cost more than their own work. Such a
handler names the route for metrics, the access log and the trace, and answers errors with
the app's own exception handlers, so its answers are the route's, word for word.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from opentelemetry import trace
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

ErrorHandler = Callable[[Request, Any], Response | Awaitable[Response]]


def route_of(router: APIRouter, path: str, method: str) -> APIRoute:
    """The route a handler stands for; routing puts this same object in the scope."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no {method} {path} route")


class RouteStandIn:
    def __init__(
        self, route: APIRoute, method: str, error_handlers: Mapping[Any, ErrorHandler]
    ) -> None:
        self._route = route
        self._name = f"{method} {route.path}"
        # The app's own mapping: handlers added after the app was built are seen too.
        self._error_handlers = error_handlers

    def stand_for_route(self, scope: Scope) -> None:
        """Metrics, the access log and the trace name the route, as for its own answers."""
        scope["route"] = self._route
        span = trace.get_current_span()
        if span.is_recording():  # what FastAPI's routing does for the route it selects
            span.update_name(self._name)
            span.set_attribute("http.route", self._route.path)

    async def refusal(self, scope: Scope, error: Exception) -> Response:
        """The app's own answer to the error; one it has no handler for goes on up, as from
        the route."""
        handler = self._handler_for(error)
        if handler is None:
            raise error
        response = handler(Request(scope), error)
        return await response if inspect.isawaitable(response) else response

    def _handler_for(self, error: Exception) -> ErrorHandler | None:
        """The handler the app's exception middleware would pick (500 and `Exception` are
        the server error middleware's, outside this one)."""
        if isinstance(error, HTTPException) and error.status_code in self._error_handlers:
            return self._error_handlers[error.status_code]
        for cls in type(error).__mro__:
            if cls is Exception:
                return None
            if cls in self._error_handlers:
                return self._error_handlers[cls]
        return None
