"""Wires the gateway: settings in, FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis

from gateway.settings import GatewaySettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.dependency_probes import http_ready_probe, redis_probe


def build_app(settings: GatewaySettings) -> FastAPI:
    redis = Redis.from_url(str(settings.redis_url))
    downstream = httpx.AsyncClient(timeout=settings.downstream_timeout_seconds)
    health = health_registry_for(settings)
    health.add("redis", redis_probe(redis))
    # A downstream outage is reported but does not pull every gateway pod out of
    # rotation: the gateway still answers other routes and fails fast on the broken one.
    for name, base_url in settings.downstream_services().items():
        health.add(name, http_ready_probe(downstream, base_url), required=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await downstream.aclose()
        await redis.aclose()

    app = create_service_app(
        settings,
        title="Ticketing API",
        description="Public REST API of the ticket booking platform.",
        health=health,
        lifespan=lifespan,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "If-None-Match",
            "X-Request-ID",
            "X-Correlation-ID",
        ],
        expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", "X-Correlation-ID"],
    )
    return app
