"""Builds a FastAPI app with everything every service shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from service_kit.health import HealthRegistry, mount_health
from service_kit.http_errors import error_responses, install_error_handlers
from service_kit.internal_auth import (
    InternalTokenIssuer,
    InternalTokenVerifier,
    internal_caller,
    verified_caller,
)
from service_kit.metrics import metrics_router
from service_kit.middleware import RequestContextMiddleware
from service_kit.settings import (
    InternalTokenSettings,
    ServiceSettings,
    ServiceTokenIssuerSettings,
)
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
        trusted_services=settings.trusted_services,
        leeway_seconds=settings.internal_token_leeway_seconds,
    )


def service_token_issuer(settings: ServiceTokenIssuerSettings) -> InternalTokenIssuer | None:
    """What the service signs its own calls to other services with; None without a key
    (outside production only: the calls then carry no token and are refused)."""
    if settings.service_token_private_key is None:
        return None
    return InternalTokenIssuer.from_text(
        settings.service_token_private_key.get_secret_value(),
        issuer=settings.service_name,
        ttl_seconds=settings.service_token_ttl_seconds,
    )


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    health: HealthRegistry,
    routers: Sequence[APIRouter] = (),
    service_routers: Sequence[APIRouter] = (),
    lifespan: Lifespan | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
) -> FastAPI:
    """A service whose settings are `InternalTokenSettings` answers 401 on every route of
    `routers` and `service_routers` without a valid token; the probes and /metrics stay
    open for the kubelet and Prometheus.

    `routers` are for people and the gateway: a service's own token is refused there (403).
    `service_routers` are the routes other services call; each of their routes names the
    services it accepts (`Caller.is_service`), so a trusted service reaches only those.
    """

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
    if service_routers and not guarded:
        raise ValueError("service routes need InternalTokenSettings: they would be open")
    for router in routers:
        app.include_router(
            router,
            dependencies=[Depends(internal_caller)] if guarded else None,
            responses=error_responses(401) if guarded else None,
        )
    for router in service_routers:
        app.include_router(
            router, dependencies=[Depends(verified_caller)], responses=error_responses(401)
        )
    return app
