import io
import json
import logging
from collections.abc import Iterator

import aiohttp
import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastapi import APIRouter, FastAPI
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.messaging import header_map
from service_kit.settings import ServiceSettings
from service_kit.structured_logging import JsonFormatter
from service_kit.tracing import (
    configure_tracing,
    context_from_headers,
    continued_span,
    current_tracer_provider,
    exporter_from_environment,
    inject_trace_headers,
    instrument_http_client,
    shutdown_tracing,
    tracing_requested,
)

CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
log = logging.getLogger("service_kit.tests.tracing")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("demo", exporter=exporter)
    yield exporter
    shutdown_tracing()


@pytest.fixture
def tracing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("demo"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield stream
    log.removeHandler(handler)


def _logged(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _downstream_app() -> FastAPI:
    settings = ServiceSettings(service_name="names")
    router = APIRouter()

    @router.get("/name")
    async def name() -> dict[str, str]:
        log.info("looked up a name")
        return {"name": "Ada"}

    return create_service_app(
        settings,
        title="Names",
        description="Names",
        health=health_registry_for(settings),
        routers=[router],
    )


def _upstream_app(downstream: httpx.AsyncClient) -> FastAPI:
    settings = ServiceSettings(service_name="greeter")
    router = APIRouter()

    @router.get("/greeting")
    async def greeting() -> dict[str, str]:
        name = (await downstream.get("/name")).json()["name"]
        return {"greeting": f"hello {name}"}

    return create_service_app(
        settings,
        title="Greeter",
        description="Greeter",
        health=health_registry_for(settings),
        routers=[router],
    )


def _in_another_process(app: ASGIApp) -> ASGIApp:
    """Runs the app without the caller's OTel context, as over a real network: only the
    headers can carry the trace."""

    async def isolated(scope: Scope, receive: Receive, send: Send) -> None:
        token = otel_context.attach(otel_context.Context())
        try:
            await app(scope, receive, send)
        finally:
            otel_context.detach(token)

    return isolated


async def _greet(headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=_in_another_process(_downstream_app()))
    async with httpx.AsyncClient(transport=transport, base_url="http://names") as downstream:
        instrument_http_client(downstream)
        upstream = httpx.ASGITransport(app=_upstream_app(downstream))
        async with httpx.AsyncClient(transport=upstream, base_url="http://greeter") as client:
            return await client.get("/greeting", headers=headers)


async def test_a_call_across_two_services_is_one_linked_trace(
    spans: InMemorySpanExporter,
) -> None:
    response = await _greet()

    assert response.json() == {"greeting": "hello Ada"}
    finished = list(spans.get_finished_spans())
    server = [span for span in finished if span.kind == SpanKind.SERVER]
    client = [span for span in finished if span.kind == SpanKind.CLIENT]
    assert len(server) == 2
    assert len(client) == 1
    upstream_server = next(span for span in server if span.parent is None)
    downstream_server = next(span for span in server if span.parent is not None)
    assert {span.context.trace_id for span in finished} == {upstream_server.context.trace_id}
    assert client[0].parent is not None
    assert client[0].parent.span_id == upstream_server.context.span_id
    assert downstream_server.parent is not None
    assert downstream_server.parent.span_id == client[0].context.span_id
    assert downstream_server.parent.is_remote
    assert "/greeting" in upstream_server.name
    assert "/name" in downstream_server.name


async def test_continues_the_trace_of_an_incoming_traceparent(
    spans: InMemorySpanExporter,
) -> None:
    await _greet({"traceparent": f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"})

    upstream_server = next(
        span
        for span in spans.get_finished_spans()
        if span.kind == SpanKind.SERVER and "/greeting" in span.name
    )
    assert format(upstream_server.context.trace_id, "032x") == CALLER_TRACE_ID
    assert upstream_server.parent is not None
    assert format(upstream_server.parent.span_id, "016x") == CALLER_SPAN_ID


async def test_a_log_line_written_in_a_request_carries_its_trace_id(
    spans: InMemorySpanExporter, log_lines: io.StringIO
) -> None:
    await _greet()

    (line,) = [entry for entry in _logged(log_lines) if entry["message"] == "looked up a name"]
    downstream_server = next(
        span
        for span in spans.get_finished_spans()
        if span.kind == SpanKind.SERVER and "/name" in span.name
    )
    assert line["trace_id"] == format(downstream_server.context.trace_id, "032x")
    assert line["span_id"] == format(downstream_server.context.span_id, "016x")


async def test_probes_and_metrics_are_not_traced(spans: InMemorySpanExporter) -> None:
    transport = httpx.ASGITransport(app=_downstream_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://names") as client:
        await client.get("/health/live")
        await client.get("/metrics")

    assert spans.get_finished_spans() == ()


async def test_with_tracing_off_nothing_is_installed_and_logs_have_no_trace_id(
    tracing_off: None, log_lines: io.StringIO
) -> None:
    assert configure_tracing("demo") is None
    assert current_tracer_provider() is None

    response = await _greet()

    assert response.json() == {"greeting": "hello Ada"}
    (line,) = [entry for entry in _logged(log_lines) if entry["message"] == "looked up a name"]
    assert "trace_id" not in line
    assert "span_id" not in line


@pytest.mark.parametrize(
    ("environ", "requested"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_when_the_environment_names_an_exporter(
    environ: dict[str, str], requested: bool
) -> None:
    assert tracing_requested(environ) is requested


def test_the_exporter_is_the_one_the_environment_names() -> None:
    assert isinstance(
        exporter_from_environment({"OTEL_TRACES_EXPORTER": "console"}), ConsoleSpanExporter
    )
    assert isinstance(exporter_from_environment({}), OTLPSpanExporter)
    with pytest.raises(ValueError, match="zipkin"):
        exporter_from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_trace_headers_round_trip_the_current_span(spans: InMemorySpanExporter) -> None:
    cloud_event_headers = [("ce_id", b"evt-1"), ("correlation_id", b"order-7")]
    tracer = trace.get_tracer(__name__, tracer_provider=current_tracer_provider())

    with tracer.start_as_current_span("publish") as span:
        headers = inject_trace_headers(cloud_event_headers)

    assert headers[:2] == cloud_event_headers
    for carried in (headers, header_map(headers)):
        remote = trace.get_current_span(context_from_headers(carried)).get_span_context()
        assert remote.is_remote
        assert remote.trace_id == span.get_span_context().trace_id
        assert remote.span_id == span.get_span_context().span_id


def test_injecting_replaces_trace_headers_already_present(spans: InMemorySpanExporter) -> None:
    stale = [("traceparent", f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01".encode())]
    tracer = trace.get_tracer(__name__, tracer_provider=current_tracer_provider())

    with tracer.start_as_current_span("publish"):
        headers = inject_trace_headers(stale)

    assert [name for name, _ in headers] == ["traceparent"]
    assert headers != stale


def test_without_a_current_span_headers_are_left_alone() -> None:
    headers = [("ce_id", b"evt-1")]

    assert inject_trace_headers(headers) == headers
    assert not trace.get_current_span(context_from_headers(headers)).get_span_context().is_valid
    assert not trace.get_current_span(context_from_headers(None)).get_span_context().is_valid


async def test_an_aiohttp_call_is_a_client_span_whose_trace_the_callee_receives(
    spans: InMemorySpanExporter,
) -> None:
    received: list[str] = []

    async def charge(request: web.Request) -> web.Response:
        received.append(request.headers.get("traceparent", ""))
        return web.json_response({"status": "succeeded"})

    provider = web.Application()
    provider.router.add_post("/v1/payment_intents", charge)
    async with TestServer(provider) as server:
        tracer = trace.get_tracer("demo")
        with tracer.start_as_current_span("payment step") as step:
            async with (
                aiohttp.ClientSession() as session,
                session.post(server.make_url("/v1/payment_intents")) as response,
            ):
                assert (await response.json()) == {"status": "succeeded"}

    client = [span for span in spans.get_finished_spans() if span.kind == SpanKind.CLIENT]
    assert len(client) == 1
    assert client[0].parent is not None
    assert client[0].parent.span_id == step.get_span_context().span_id
    trace_id = format(step.get_span_context().trace_id, "032x")
    span_id = format(client[0].context.span_id, "016x")
    assert [header.split("-")[1:3] for header in received] == [[trace_id, span_id]]


def test_work_done_later_continues_the_trace_of_the_request_that_caused_it(
    spans: InMemorySpanExporter,
) -> None:
    caller = f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"

    with continued_span("payment", caller) as traceparent:
        pass

    [span] = spans.get_finished_spans()
    assert span.name == "payment"
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == CALLER_SPAN_ID
    assert f"{span.context.trace_id:032x}" == CALLER_TRACE_ID
    assert traceparent == f"00-{CALLER_TRACE_ID}-{span.context.span_id:016x}-01"


def test_work_without_a_stored_trace_starts_one_and_with_tracing_off_none(
    spans: InMemorySpanExporter,
) -> None:
    with continued_span("payment", None) as traceparent:
        pass
    [span] = spans.get_finished_spans()
    assert span.parent is None
    assert traceparent is not None
    shutdown_tracing()

    with continued_span("payment", f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01") as off:
        assert off is None
