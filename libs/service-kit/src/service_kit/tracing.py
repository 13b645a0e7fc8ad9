"""OpenTelemetry tracing: off unless the standard `OTEL_*` variables ask for an exporter.

When on, FastAPI apps built by the kit get server spans from FastAPI's own telemetry
(W3C `traceparent` taken from incoming requests), httpx, aiohttp, asyncpg and psycopg calls get
client spans, and log lines carry the trace id. When off, nothing is instrumented, so
requests pay nothing.

Kafka messages carry the trace in `traceparent`/`tracestate` headers, the names
faststream's `KafkaTelemetryMiddleware` reads and writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

import httpx
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from service_kit.messaging import KafkaHeaders, header_map

TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"
_TRACE_HEADERS = frozenset({TRACEPARENT_HEADER, TRACESTATE_HEADER})
UNTRACED_PATH_PREFIXES = ("/health/", "/metrics")

_PROPAGATOR = TraceContextTextMapPropagator()
_ASYNCPG = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
_provider: TracerProvider | None = None


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment names a trace exporter or an OTLP endpoint."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def exporter_from_environment(environ: Mapping[str, str] | None = None) -> SpanExporter:
    """The exporter `OTEL_TRACES_EXPORTER` names (default `otlp`, over HTTP/protobuf).

    Exporters are found by the SDK's own entry points (`console`, `otlp_proto_http`, ...);
    each reads its own `OTEL_EXPORTER_*` variables (endpoint, headers, timeout).
    """
    env = os.environ if environ is None else environ
    name = env.get("OTEL_TRACES_EXPORTER", "").split(",")[0].strip().lower() or "otlp"
    if name == "otlp":
        protocol = (
            env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        name = "otlp_proto_grpc" if protocol.strip().lower() == "grpc" else "otlp_proto_http"
    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        raise ValueError(f"OTEL_TRACES_EXPORTER: no trace exporter named {name!r} is installed")
    exporter_class = next(iter(found)).load()
    exporter: SpanExporter = exporter_class()
    return exporter


def configure_tracing(
    service_name: str,
    *,
    service_version: str | None = None,
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """Turns tracing on for this process if the environment (or a test) asks for it.

    Returns the provider, or None when tracing stays off. Idempotent: a second call
    returns the provider the first one made. Pass `exporter` (e.g. an
    `InMemorySpanExporter`) to force tracing on with spans exported synchronously.
    The sampler, span limits and `OTEL_SERVICE_NAME`/`OTEL_RESOURCE_ATTRIBUTES` come
    from the SDK's own environment handling.
    """
    global _provider
    if _provider is not None:
        return _provider
    if exporter is None and not tracing_requested():
        return None
    attributes: dict[str, str] = {}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = service_name
    if service_version is not None:
        attributes[SERVICE_VERSION] = service_version
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is None:
        provider.add_span_processor(BatchSpanProcessor(exporter_from_environment()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _set_global_provider(provider)
    # Class-level patches: clients and pools made before this call are covered too,
    # except psycopg connections already opened (wrapped when they connect).
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    _ASYNCPG.instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def current_tracer_provider() -> TracerProvider | None:
    """The provider `configure_tracing` installed, or None while tracing is off."""
    return _provider


def shutdown_tracing() -> None:
    """Flushes and stops the provider and removes the instrumentation (shutdown, tests)."""
    global _provider
    if _provider is None:
        return
    provider, _provider = _provider, None
    HTTPXClientInstrumentor().uninstrument()
    AioHttpClientInstrumentor().uninstrument()
    _ASYNCPG.uninstrument()
    PsycopgInstrumentor().uninstrument()
    provider.shutdown()


def fastapi_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry settings for an app built now: server spans (with the
    incoming `traceparent`) through the kit's provider when tracing is on, nothing when
    off. Metrics and logs stay with Prometheus and the JSON logs."""
    return {
        "tracer_provider": _provider,
        "tracing": _provider is not None,
        "metrics": False,
        "logs": False,
        # Spans per dependency, endpoint and serialization would quadruple a request's spans.
        "operation_spans": False,
        "auto_configure": False,
        "exclude": _is_probe,
    }


def _is_probe(scope: MutableMapping[str, Any]) -> bool:
    # Probes and scrapes run every few seconds on every pod; tracing them buries requests.
    path: str = scope.get("path", "")
    return path.startswith(UNTRACED_PATH_PREFIXES)


def instrument_http_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Client spans and `traceparent` for a client whose transport is not httpx's own
    (e.g. `httpx.ASGITransport`); clients on the default transport are covered already."""
    if _provider is not None:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)
    return client


def inject_trace_headers(headers: KafkaHeaders, context: Context | None = None) -> KafkaHeaders:
    """The headers plus `traceparent` (and `tracestate`) of the current span.

    Any trace headers already present are replaced; without a current span (tracing
    off) the headers come back unchanged.
    """
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    if not carrier:
        return list(headers)
    kept = [(name, value) for name, value in headers if name not in _TRACE_HEADERS]
    return kept + [(name, value.encode()) for name, value in carrier.items()]


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to store with what the request causes
    (e.g. an event that an outbox relay publishes later); None while tracing is off."""
    if _provider is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT_HEADER)


def context_from_headers(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, str] | None,
) -> Context:
    """The remote parent carried by a message's headers, to start a consumer span under;
    an empty Context (a new trace) when the message has no valid `traceparent`."""
    return _PROPAGATOR.extract(header_map(headers), context=Context())


@contextmanager
def continued_span(name: str, traceparent: str | None) -> Iterator[str | None]:
    """A span continuing the trace `traceparent` names, current while the block runs: work a
    request caused that a background worker does later. Yields the span's own
    `traceparent`, for what the work stores; None while tracing is off."""
    provider = _provider
    if provider is None:
        yield None
        return
    parent = context_from_headers({TRACEPARENT_HEADER: traceparent} if traceparent else None)
    with provider.get_tracer(__name__).start_as_current_span(name, context=parent):
        yield current_traceparent()


def _set_global_provider(provider: TracerProvider) -> None:
    # The API lets the global provider be set once per process; tests that configure
    # again keep the first one, which is harmless because the kit passes its provider
    # to every instrumentation explicitly.
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
