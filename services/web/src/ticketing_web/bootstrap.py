"""Wires the web service: settings (and, in tests, a stand-in transport) in, app out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.http_errors import error_body
from ticketing_web.adapters.gateway import Gateway
from ticketing_web.entrypoints.http import pages, proxy, session
from ticketing_web.entrypoints.http.middleware import BrowserSecurity
from ticketing_web.settings import WebSettings

logger = logging.getLogger(__name__)


async def _gateway_unreachable(_: Request, error: Exception) -> JSONResponse:
    logger.warning("gateway call failed: %r", error)
    return JSONResponse(
        error_body(
            "The ticket service is not reachable right now; try again in a moment",
            "gateway_unavailable",
        ),
        status_code=503,
        headers={"Retry-After": "2"},
    )


def build_app(settings: WebSettings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    client = httpx.AsyncClient(
        base_url=settings.gateway_base_url,
        timeout=httpx.Timeout(settings.gateway_timeout_seconds, connect=2.0),
        transport=transport,
    )
    gateway = Gateway(client, stream_read_timeout_seconds=settings.stream_read_timeout_seconds)
    health = health_registry_for(settings)
    # Reported, not required: the pages still load while the gateway restarts.
    health.add("gateway", gateway.ping, required=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    app = create_service_app(
        settings,
        title="Ticketing web",
        description="The shop and the console: pages, and a backend-for-frontend that keeps "
        "the gateway's token in an httpOnly cookie and calls only the gateway's public API.",
        health=health,
        lifespan=lifespan,
        openapi_tags=[{"name": "session", "description": "Log in and out (cookie session)"}],
    )
    app.state.gateway = gateway
    app.include_router(session.router)
    app.include_router(proxy.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.add_exception_handler(httpx.TransportError, _gateway_unreachable)
    app.add_middleware(BrowserSecurity, always_https=settings.cookie_secure is True)
    return app
