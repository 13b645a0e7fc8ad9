"""Builds a FastAPI app with everything every service shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from service_kit.health import HealthRegistry, mount_health
from service_kit.http_errors import error_responses, install_error_handlers
from service_kit.internal_auth import InternalTokenVerifier, internal_caller
from service_kit.metrics import metrics_router
from service_kit.middleware import RequestContextMiddleware
from service_kit.settings import InternalTokenSettings, ServiceSettings
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


def internal_token_verifier(settings: ServiceSettings) -> InternalTokenVerifier | None:
    if not isinstance(settings, InternalTokenSettings):
        return None
    return InternalTokenVerifier.from_text(
        settings.internal_token_public_key,
        settings.service_name,
        leeway_seconds=settings.internal_token_leeway_seconds,
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
    """A service whose settings are `InternalTokenSettings` answers 401 on every route of
    `routers` without a valid gateway token; the probes and /metrics stay open for the
    kubelet and Prometheus."""

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
    internal_tokens = internal_token_verifier(settings)
    app.state.internal_tokens = internal_tokens
    guarded = internal_tokens is not None
    for router in routers:
        app.include_router(
            router,
            dependencies=[Depends(internal_caller)] if guarded else None,
            responses=error_responses(401) if guarded else None,
        )
    return app
