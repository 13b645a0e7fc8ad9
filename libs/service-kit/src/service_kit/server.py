"""Runs a service under uvicorn with JSON logs and a bounded graceful shutdown."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from service_kit.settings import ServiceSettings, SettingsT, load_settings
from service_kit.structured_logging import configure_logging
from service_kit.tracing import configure_tracing, shutdown_tracing


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, settings.log_level)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        # Behind an ingress every request comes from the proxy; per-client rate limits
        # need the forwarded address, but only from proxies we trust.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
        # On SIGTERM uvicorn stops accepting, waits this long for in-flight
        # requests, then runs the lifespan shutdown that closes pools and consumers.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        # Every open connection (a status stream too) counts; beyond it uvicorn answers 503.
        limit_concurrency=settings.http_limit_concurrency,
    )
    uvicorn.Server(config).run()


def run_service(settings_class: type[SettingsT], build_app: Callable[[SettingsT], FastAPI]) -> None:
    """Entry point of every `python -m <service>`: validate settings, build, serve."""
    settings = load_settings(settings_class)
    # Before the app is built, so database connections its pools open are traced too.
    configure_tracing(settings.service_name, service_version=settings.service_version)
    try:
        serve(build_app(settings), settings)
    finally:
        shutdown_tracing()
