"""The four services run as real processes against real PostgreSQL, Redis and broker."""

import httpx
import pytest

from local_infra.stack_state import StackInfo

from .platform_api import eventually
from .stack_helpers import wait_until_ready

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

EXPECTED_DEPENDENCIES = {
    "gateway": {
        "postgres",
        "redis",
        "booking-command",
        "inventory",
        "query-projection",
        "entry",
        "waiting-room admission",
    },
    "booking-command": {
        "postgres",
        "kafka",
        "kafka-runtime",
        "outbox-relay",
        "group-commit",
        "hold-expiry",
        "payment-worker",
        "payment-provider",
        "inventory",
        "event-cancellation-worker",
    },
    "inventory": {
        "postgres",
        "redis",
        "kafka",
        "circuit_breaker:postgres",
        "circuit_breaker:kafka_producer",
        "circuit_breaker:booking_command",
        "unclaimed-hold-sweeper",
        "waitlist-offer-step",
    },
    "query-projection": {"postgres", "redis", "kafka", "caught_up"},
    "entry": {"postgres", "kafka", "caught_up"},
    "notifications": {
        "postgres",
        "kafka",
        "mail-sender",
        "smtp",
        "circuit_breaker:smtp",
        "circuit_breaker:entry",
    },
    "mail-catcher": {"smtp"},
}


async def test_gateway_is_ready_and_sees_every_downstream_service_up(
    running_stack: StackInfo,
) -> None:
    for service in EXPECTED_DEPENDENCIES:
        await wait_until_ready(running_stack.url(service))
    async with httpx.AsyncClient(base_url=running_stack.gateway_url, timeout=10) as client:

        async def gateway_ready() -> httpx.Response:
            return await client.get("/health/ready")

        # A downstream call that failed while the others were starting keeps its breaker
        # open until the next trial: the gateway sees them up within that.
        response = await eventually(
            gateway_ready,
            lambda answer: (
                answer.status_code == 200
                and all(check["status"] == "up" for check in answer.json()["checks"].values())
            ),
            within=30,
            what="the gateway seeing every downstream service up",
        )
    checks = response.json()["checks"]
    assert set(checks) == EXPECTED_DEPENDENCIES["gateway"]
    assert {name: check["status"] for name, check in checks.items()} == dict.fromkeys(checks, "up")


@pytest.mark.parametrize("service", sorted(EXPECTED_DEPENDENCIES))
async def test_each_service_reports_its_own_dependencies(
    running_stack: StackInfo, service: str
) -> None:
    ready = await wait_until_ready(running_stack.url(service))
    async with httpx.AsyncClient(base_url=running_stack.url(service), timeout=10) as client:
        summary = await client.get("/health")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == EXPECTED_DEPENDENCIES[service]
    assert summary.json()["service"] == service
    assert summary.json()["version"]


async def test_the_gateway_returns_the_callers_request_id_and_counts_the_request(
    running_stack: StackInfo,
) -> None:
    async with httpx.AsyncClient(base_url=running_stack.gateway_url, timeout=10) as client:
        response = await client.get("/health/live", headers={"X-Request-ID": "smoke-test-1"})
        metrics = await client.get("/metrics")
    assert response.headers["X-Request-ID"] == "smoke-test-1"
    assert 'http_requests_total{method="GET",route="/health/live",status="200"}' in metrics.text


async def test_the_gateway_publishes_its_openapi_document(running_stack: StackInfo) -> None:
    async with httpx.AsyncClient(base_url=running_stack.gateway_url, timeout=10) as client:
        schema = await client.get("/openapi.json")
        docs = await client.get("/docs")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Ticketing API"
    assert docs.status_code == 200
