import asyncio
import math
import time
import uuid

import httpx
from prometheus_client import REGISTRY

VENUE = {"name": "Hall", "capacity": 10, "address": "Somewhere 1"}


def breaker_metric(name: str) -> float | None:
    return REGISTRY.get_sample_value("circuit_breaker_state", {"name": name})


async def test_retries_an_idempotent_read_on_a_server_error(gateway) -> None:
    projection = gateway.backend.QUERY_PROJECTION
    gateway.backend.failing[projection] = 502
    response = await gateway.client.get("/api/v1/venues")
    assert response.status_code == 503
    assert response.json()["error_type"] in {"upstream_error", "dependency_unavailable"}
    assert len(gateway.backend.calls_to(projection)) == gateway.settings.retry_attempts


async def test_a_read_succeeds_when_a_retry_does(gateway) -> None:
    projection = gateway.backend.QUERY_PROJECTION
    answers = iter([httpx.Response(502, json={"detail": "x", "error_type": "y"})])

    def flaky(request: httpx.Request) -> httpx.Response:
        return next(
            answers, httpx.Response(200, json={"items": [], "page": 1, "size": 20, "total": 0})
        )

    gateway.backend.scripted[projection] = flaky
    response = await gateway.client.get("/api/v1/venues")
    assert response.status_code == 200
    assert len(gateway.backend.calls_to(projection)) == 2


async def test_does_not_retry_a_post_without_idempotency_key_on_a_server_error(
    gateway, manager_headers
) -> None:
    command = gateway.backend.BOOKING_COMMAND
    gateway.backend.failing[command] = 500
    response = await gateway.client.post("/api/v1/venues", json=VENUE, headers=manager_headers)
    assert response.status_code == 503
    assert len(gateway.backend.calls_to(command)) == 1


async def test_retries_a_post_with_idempotency_key_on_a_server_error(
    gateway, manager_headers
) -> None:
    command = gateway.backend.BOOKING_COMMAND
    gateway.backend.failing[command] = 500
    response = await gateway.client.post(
        "/api/v1/venues", json=VENUE, headers={**manager_headers, "Idempotency-Key": "k-1"}
    )
    assert response.status_code == 503
    assert len(gateway.backend.calls_to(command)) == gateway.settings.retry_attempts


async def test_retries_any_request_whose_connection_failed(gateway_factory) -> None:
    async with gateway_factory(breaker_fail_max=10) as gateway:
        headers = await gateway.headers_for("manager")
        command = gateway.backend.BOOKING_COMMAND
        gateway.backend.unreachable.add(command)
        response = await gateway.client.post("/api/v1/venues", json=VENUE, headers=headers)
        assert response.status_code == 503
        assert response.json()["error_type"] == "dependency_unavailable"
        assert "Retry-After" in response.headers
        assert len(gateway.backend.calls_to(command)) == gateway.settings.retry_attempts


async def test_client_errors_do_not_open_the_breaker(gateway, admin_headers) -> None:
    for _ in range(gateway.settings.breaker_fail_max + 2):
        response = await gateway.client.get("/api/v1/venues/00000000-0000-0000-0000-000000000000")
        assert response.status_code == 404
    assert gateway.app.state.breakers["query-projection"].current_state == "closed"


async def test_a_read_model_behind_answer_passes_through_without_retry_or_breaking(gateway) -> None:
    projection = gateway.backend.QUERY_PROJECTION
    gateway.backend.scripted[projection] = lambda request: httpx.Response(
        503,
        json={"detail": "read model behind", "error_type": "read_model_behind"},
        headers={"Retry-After": "2"},
    )
    for _ in range(gateway.settings.breaker_fail_max + 1):
        response = await gateway.client.get("/api/v1/venues")
        assert response.status_code == 503
        assert response.json()["error_type"] == "read_model_behind"
        assert response.headers["Retry-After"] == "2"
    assert len(gateway.backend.calls_to(projection)) == gateway.settings.breaker_fail_max + 1
    assert gateway.app.state.breakers["query-projection"].current_state == "closed"


async def test_the_breaker_opens_fails_fast_and_closes_after_recovery(gateway_factory) -> None:
    async with gateway_factory(retry_attempts=1) as gateway:
        projection = gateway.backend.QUERY_PROJECTION
        gateway.backend.unreachable.add(projection)
        for _ in range(gateway.settings.breaker_fail_max):
            assert (await gateway.client.get("/api/v1/venues")).status_code == 503
        calls = len(gateway.backend.calls_to(projection))
        assert breaker_metric("query-projection") == 2

        started = time.perf_counter()
        fast = await gateway.client.get("/api/v1/venues")
        assert time.perf_counter() - started < 0.5
        assert fast.status_code == 503
        assert fast.json()["error_type"] == "dependency_unavailable"
        assert "circuit open" in fast.json()["detail"]
        assert fast.headers["Retry-After"] == str(math.ceil(gateway.settings.breaker_reset_seconds))
        assert len(gateway.backend.calls_to(projection)) == calls

        ready = (await gateway.client.get("/health/ready")).json()
        assert ready["checks"]["query-projection"]["status"] == "down"
        assert ready["checks"]["query-projection"]["error"] == "RuntimeError"  # detail: log

        # The other downstream service keeps working while this one is broken.
        admin = await gateway.headers_for("admin")
        assert (
            await gateway.client.post("/api/v1/venues", json=VENUE, headers=admin)
        ).status_code == 201

        gateway.backend.unreachable.clear()
        await asyncio.sleep(gateway.settings.breaker_reset_seconds + 0.1)
        recovered = await gateway.client.get("/api/v1/venues")
        assert recovered.status_code == 200
        assert gateway.app.state.breakers["query-projection"].current_state == "closed"
        assert breaker_metric("query-projection") == 0


async def test_a_failed_trial_call_opens_the_breaker_again(gateway_factory) -> None:
    async with gateway_factory(retry_attempts=1) as gateway:
        projection = gateway.backend.QUERY_PROJECTION
        gateway.backend.failing[projection] = 500
        for _ in range(gateway.settings.breaker_fail_max):
            await gateway.client.get("/api/v1/venues")
        await asyncio.sleep(gateway.settings.breaker_reset_seconds + 0.1)
        trial = await gateway.client.get("/api/v1/venues")
        assert trial.status_code == 503
        assert gateway.app.state.breakers["query-projection"].current_state == "open"


async def test_request_and_correlation_ids_reach_every_downstream_call(
    gateway, user_headers
) -> None:
    response = await gateway.client.get(
        "/api/v1/venues",
        headers={**user_headers, "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"},
    )
    assert response.headers["X-Request-ID"] == "req-1"
    sent = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert sent.headers["X-Request-ID"] == "req-1"
    assert sent.headers["X-Correlation-ID"] == "corr-1"
    generated = await gateway.client.get("/api/v1/venues", headers=user_headers)
    sent = gateway.backend.calls_to(gateway.backend.QUERY_PROJECTION)[-1]
    assert sent.headers["X-Request-ID"] == generated.headers["X-Request-ID"]


async def test_health_aggregates_the_downstream_services(gateway) -> None:
    response = await gateway.client.get("/health")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert {"booking-command", "inventory", "query-projection"} <= set(checks)
    gateway.backend.failing[gateway.backend.INVENTORY] = 503
    degraded = await gateway.client.get("/health")
    assert degraded.status_code == 200  # downstream checks are not required
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"]["inventory"]["status"] == "down"


async def test_a_booking_inventory_cannot_hold_now_is_answered_503_without_breaking(
    gateway, user_headers
) -> None:
    commands = gateway.backend.BOOKING_COMMAND
    gateway.backend.scripted[commands] = lambda request: httpx.Response(
        503,
        json={"detail": "inventory cannot answer now", "error_type": "dependency_unavailable"},
        headers={"Retry-After": "4"},
    )
    booking = {
        "event_id": str(uuid.uuid4()),
        "ticket_type_id": str(uuid.uuid4()),
        "quantity": 1,
        "customer_name": "Ada Lovelace",
        "customer_email": "ada@example.com",
        "payment_token": "tok_visa",
    }
    for _ in range(gateway.settings.breaker_fail_max + 1):
        response = await gateway.client.post("/api/v1/bookings", json=booking, headers=user_headers)
        assert response.status_code == 503, response.text
        assert response.json()["error_type"] == "dependency_unavailable"
        assert response.headers["Retry-After"] == "4"
    assert len(gateway.backend.calls_to(commands, "POST")) == gateway.settings.breaker_fail_max + 1
    assert gateway.app.state.breakers["booking-command"].current_state == "closed"
