import json
import logging

import httpx
import pytest
from prometheus_client import REGISTRY


async def test_generates_a_request_id_and_uses_it_as_correlation_id(
    demo_client: httpx.AsyncClient,
) -> None:
    response = await demo_client.get("/venues/1")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    assert response.headers["X-Correlation-ID"] == request_id


async def test_round_trips_the_callers_request_and_correlation_ids(
    demo_client: httpx.AsyncClient,
) -> None:
    response = await demo_client.get(
        "/venues/1", headers={"X-Request-ID": "req-42", "X-Correlation-ID": "order-7"}
    )
    assert response.headers["X-Request-ID"] == "req-42"
    assert response.headers["X-Correlation-ID"] == "order-7"


async def test_replaces_a_request_id_that_is_unsafe_to_log(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.get("/venues/1", headers={"X-Request-ID": "bad id\n<script>"})
    assert response.headers["X-Request-ID"] != "bad id\n<script>"
    assert len(response.headers["X-Request-ID"]) == 32


def _count(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "http_requests_total", {"method": "GET", "route": route, "status": status}
    )
    return value or 0.0


async def test_metrics_count_requests_under_the_route_template(
    demo_client: httpx.AsyncClient,
) -> None:
    before = _count("/venues/{venue_id}", "200")
    await demo_client.get("/venues/1")
    await demo_client.get("/venues/2")
    exposition = (await demo_client.get("/metrics")).text
    assert _count("/venues/{venue_id}", "200") == before + 2
    assert 'route="/venues/{venue_id}"' in exposition
    assert 'route="/venues/1"' not in exposition
    assert "http_request_duration_seconds_bucket" in exposition
    assert "process_cpu_seconds_total" in exposition


async def test_unknown_paths_are_counted_without_their_raw_path(
    demo_client: httpx.AsyncClient,
) -> None:
    await demo_client.get("/no/such/thing/123")
    exposition = (await demo_client.get("/metrics")).text
    assert 'route="unmatched"' in exposition
    assert "/no/such/thing" not in exposition


async def test_domain_errors_answer_with_status_detail_and_error_type(
    demo_client: httpx.AsyncClient,
) -> None:
    missing = await demo_client.get("/venues/404")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Venue 404 not found", "error_type": "not_found"}

    full = await demo_client.post("/bookings", params={"quantity": 3})
    assert full.status_code == 409
    assert full.json() == {
        "detail": "Only 1 ticket left, 3 requested",
        "error_type": "insufficient_capacity",
        "available": 1,
    }, "what the error carries for the client stands beside detail and error_type"


async def test_validation_errors_use_the_same_shape_and_name_the_field(
    demo_client: httpx.AsyncClient,
) -> None:
    response = await demo_client.get("/venues/not-a-number")
    assert response.status_code == 422
    body = response.json()
    assert body["error_type"] == "validation_error"
    assert "path.venue_id" in body["detail"]
    assert body["errors"][0]["field"] == "path.venue_id"


async def test_unknown_route_uses_the_error_shape(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "error_type": "not_found"}


async def test_unhandled_error_returns_500_without_leaking_and_logs_the_stack(
    demo_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await demo_client.get("/explode", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error", "error_type": "internal_error"}
    assert "hunter2" not in response.text
    assert response.headers["X-Request-ID"] == "boom-1"
    logged = [record for record in caplog.records if record.exc_info]
    assert logged, "the failure must be logged with its stack trace"
    assert "hunter2" in str(logged[0].exc_info[1])  # type: ignore[index]


async def test_openapi_documents_the_operations_routes(demo_client: httpx.AsyncClient) -> None:
    schema = (await demo_client.get("/openapi.json")).json()
    assert schema["paths"]["/health/ready"]["get"]["summary"].startswith("Readiness")
    assert "503" in schema["paths"]["/health/ready"]["get"]["responses"]


def test_access_log_lines_are_json_with_service_and_ids() -> None:
    from service_kit.request_context import correlation_id_var, request_id_var
    from service_kit.structured_logging import JsonFormatter

    record = logging.LogRecord(
        "service_kit.access", logging.INFO, "", 0, "request handled", (), None
    )
    record.route = "/venues/{venue_id}"
    request_token = request_id_var.set("req-9")
    correlation_token = correlation_id_var.set("corr-9")
    try:
        line = json.loads(JsonFormatter("booking-command").format(record))
    finally:
        request_id_var.reset(request_token)
        correlation_id_var.reset(correlation_token)
    assert line["service"] == "booking-command"
    assert line["request_id"] == "req-9"
    assert line["correlation_id"] == "corr-9"
    assert line["route"] == "/venues/{venue_id}"
    assert line["message"] == "request handled"
