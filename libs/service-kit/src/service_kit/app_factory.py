"""Builds a FastAPI app with everything every service shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from service_kit.health import HealthRegistry, mount_health
from service_kit.http_errors import install_error_handlers
from service_kit.metrics import metrics_router
from service_kit.middleware import RequestContextMiddleware
from service_kit.settings import ServiceSettings
from service_kit.tracing import configure_tracing, fastapi_telemetry

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def health_registry_for(settings: ServiceSettings) -> HealthRegistry:
    return HealthRegistry(
        service=settings.service_name,
        version=settings.service_version,
        environment=settings.environment.value,
        timeout_seconds=settings.readiness_timeout_seconds,
        cache_seconds=settings.health_cache_seconds,
    )


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    health: HealthRegistry,
    routers: Sequence[APIRouter] = (),
    lifespan: Lifespan | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                yield
        # Uvicorn has stopped accepting and drained requests by the time we get here.
        health.draining = True

    # Off unless OTEL_* asks for it; then FastAPI's server span wraps every middleware.
    configure_tracing(settings.service_name, service_version=settings.service_version)
    app = FastAPI(
        title=title,
        description=description,
        version=settings.service_version,
        lifespan=run,
        telemetry=fastapi_telemetry(),
        openapi_tags=[*(openapi_tags or []), {"name": "operations", "description": "Probes"}],
    )
    app.state.settings = settings
    app.state.health = health
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    mount_health(app, health)
    app.include_router(metrics_router)
    for router in routers:
        app.include_router(router)
    return app
