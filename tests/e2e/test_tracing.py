"""One booking is one trace: gateway, booking-command, the hold, the relay, Kafka, inventory,
the payment worker's charge and the confirmation it publishes.

The services run as real processes with tracing turned on the way an operator does it
(`OTEL_TRACES_EXPORTER=otlp` and an endpoint); the test is the OTLP/HTTP collector.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local_infra.ports import free_port
from local_infra.pytest_plugin import DatabaseFactory
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack_state import StackInfo

from .platform_api import book, eventually, published_show, register_fan, wait_for_status
from .stack_helpers import admin_headers, own_stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str


class OtlpCollector:
    """Receives OTLP/HTTP protobuf exports, as a real collector would."""

    def __init__(self) -> None:
        self.spans: list[CollectedSpan] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        for resource_spans in export.resource_spans:
            service = next(
                (
                    attribute.value.string_value
                    for attribute in resource_spans.resource.attributes
                    if attribute.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        CollectedSpan(
                            service=service,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                        )
                    )
        return Response(ExportTraceServiceRequest().SerializeToString())

    def trace(self, trace_id: str) -> list[CollectedSpan]:
        return [span for span in self.spans if span.trace_id == trace_id]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def collector() -> AsyncIterator[tuple[OtlpCollector, int]]:
    receiver = OtlpCollector()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver.app, host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    yield receiver, port
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await serving


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def traced_stack(
    collector: tuple[OtlpCollector, int],
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    redis_key_prefix: str,
) -> AsyncIterator[StackInfo]:
    _, port = collector
    async with own_stack(
        "traced",
        tmp_path_factory,
        infrastructure,
        database_factory,
        topic_prefix,
        redis_key_prefix,
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "RATE_LIMIT_REGISTER": "600/minute",
        },
    ) as info:
        yield info


async def test_a_booking_is_one_trace_from_the_gateway_through_its_hold_and_kafka(
    traced_stack: StackInfo, collector: tuple[OtlpCollector, int]
) -> None:
    spans, _ = collector
    async with httpx.AsyncClient(base_url=traced_stack.gateway_url, timeout=30) as client:
        admin = await admin_headers(client, traced_stack)
        show = await published_show(client, admin, {"Stalls": 10})
        fan = await register_fan(client)
        booking_id = await book(client, fan.headers, show.event_id, show.ticket_type("Stalls"), 2)
        confirmed = await wait_for_status(client, fan.headers, booking_id, {"CONFIRMED"})
        assert confirmed["status"] == "CONFIRMED"

    async def gateway_request() -> list[CollectedSpan]:
        return [
            span
            for span in spans.spans
            if span.service == "gateway" and span.name == "POST /api/v1/bookings"
        ]

    async def request_trace() -> list[CollectedSpan]:
        return spans.trace(request.trace_id)

    [request] = await eventually(gateway_request, bool, within=10, what="the gateway's span")
    topic = f"{traced_stack.topic_prefix}ticketing"

    def journey_complete(trace: list[CollectedSpan]) -> bool:
        seen = {(span.service, span.name) for span in trace}
        return {
            ("booking-command", "POST /internal/v1/bookings"),
            ("inventory", "POST /internal/v1/holds"),
            ("booking-command", f"{topic}.booking.v1 publish"),
            ("inventory", f"{topic}.booking.v1 process"),
            ("query-projection", f"{topic}.booking.v1 process"),
            ("entry", f"{topic}.booking.v1 process"),
            ("notifications", f"{topic}.booking.v1 process"),
            ("booking-command", "payment"),
        } <= seen and any(
            span.name == f"{topic}.booking.v1 publish" and span.parent_span_id == payment.span_id
            for span in trace
            for payment in trace
            if payment.name == "payment"
        )

    trace = await eventually(
        request_trace,
        journey_complete,
        within=15,
        what="the booking's whole journey in one trace",
    )
    services = {span.service for span in trace}
    # query-projection, entry and notifications read the same messages in the same trace;
    # the payment worker's calls carry it to the (simulated) provider too.
    assert services == {
        "gateway",
        "booking-command",
        "inventory",
        "query-projection",
        "entry",
        "notifications",
        "payment-simulator",
    }
    # Every span but the gateway's request hangs off another span of the same trace.
    span_ids = {span.span_id for span in trace}
    orphans = [
        span for span in trace if span is not request and span.parent_span_id not in span_ids
    ]
    assert orphans == [], orphans
    # The hold is asked for inside booking-command's handling of the request.
    by_id = {span.span_id: span for span in trace}
    [hold] = [span for span in trace if span.name == "POST /internal/v1/holds"]
    caller = by_id[hold.parent_span_id]
    assert caller.service == "booking-command", caller
    assert by_id[caller.parent_span_id].name == "POST /internal/v1/bookings"
    # The payment worker charges later, in the same trace, and the confirmation it records
    # is published under its payment span.
    [payment] = [span for span in trace if span.name == "payment"]
    assert payment.service == "booking-command"
    [confirmation] = [
        span
        for span in trace
        if span.name == f"{topic}.booking.v1 publish" and span.parent_span_id == payment.span_id
    ]
    assert confirmation.service == "booking-command"
