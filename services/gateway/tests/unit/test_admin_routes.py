"""The operators' console routes: admins only, data from the services' probes, metrics and
internal dead-letter routes."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.adapters.platform_status import metrics_summary

METRICS = """
# TYPE kafka_consumer_lag gauge
kafka_consumer_lag{partition="0",topic="booking.events"} 3.0
kafka_consumer_lag{partition="1",topic="booking.events"} 4.0
# TYPE circuit_breaker_state gauge
circuit_breaker_state{name="payment-provider"} 2.0
# TYPE outbox_pending_events gauge
outbox_pending_events 5.0
# TYPE projection_lag_seconds histogram
projection_lag_seconds_sum 3.0
projection_lag_seconds_count 4.0
"""


def test_metrics_summary_reads_lag_breakers_and_backlog() -> None:
    summary = metrics_summary(METRICS)
    assert summary["consumer_lag"] == 7
    assert summary["consumer_lag_by_topic"] == {"booking.events": 7}
    assert summary["breakers"] == {"payment-provider": "open"}
    assert summary["outbox_pending"] == 5
    assert summary["projection_lag_seconds_mean"] == 0.75


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/admin/health"),
        ("GET", "/api/v1/admin/dead-letters"),
        ("POST", "/api/v1/admin/dead-letters/inventory/redrive"),
        ("GET", "/api/v1/admin/events/3f2c1d7e-1111-4222-8333-944455556666/sale"),
    ],
)
async def test_only_admins_reach_the_console_routes(
    gateway, user_headers, manager_headers, method, path
) -> None:
    anonymous = await gateway.client.request(method, path)
    as_user = await gateway.client.request(method, path, headers=user_headers)
    as_manager = await gateway.client.request(method, path, headers=manager_headers)
    assert anonymous.status_code == 401
    assert as_user.status_code == 403
    assert as_manager.status_code == 403


async def test_health_lists_every_service_with_readiness_and_metrics(
    gateway, admin_headers
) -> None:
    def inventory(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/metrics":
            return httpx.Response(200, text=METRICS)
        return httpx.Response(
            503, json={"status": "not_ready", "checks": {"postgres": {"status": "down"}}}
        )

    gateway.backend.scripted[gateway.backend.INVENTORY] = inventory
    response = await gateway.client.get("/api/v1/admin/health", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    by_name = {service["name"]: service for service in body["services"]}
    assert set(by_name) == {"gateway", "booking-command", "inventory", "query-projection"}
    assert body["all_ready"] is False
    assert by_name["inventory"]["ready"] is False
    assert by_name["inventory"]["checks"]["postgres"]["status"] == "down"
    assert by_name["inventory"]["consumer_lag"] == 7
    assert by_name["gateway"]["breakers"]["booking-command"] == "closed"


async def test_dead_letters_and_redrive_go_to_the_service_as_the_admin(
    gateway, admin_headers
) -> None:
    letter = {
        "dead_letter": "0@4",
        "original": "catalog.events[2]@9",
        "consumer_group": "query-projection",
        "error": "ValueError: bad",
        "key": "k",
        "value": "{}",
        "redriven": False,
    }

    def consumer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert json.loads(request.content) == {"limit": 1}
            return httpx.Response(
                200,
                json={"consumer_group": "g", "redriven": [{**letter, "redriven": True}]},
            )
        group = request.url.host
        return httpx.Response(
            200,
            json={"consumer_group": group, "topic": "dlt", "pending": 1, "dead_letters": [letter]},
        )

    backend = gateway.backend
    for host in (backend.BOOKING_COMMAND, backend.INVENTORY, backend.QUERY_PROJECTION):
        backend.scripted[host] = consumer
    listed = await gateway.client.get("/api/v1/admin/dead-letters", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    assert [item["service"] for item in listed.json()] == [
        "booking-command",
        "inventory",
        "query-projection",
    ]
    redriven = await gateway.client.post(
        "/api/v1/admin/dead-letters/query-projection/redrive",
        json={"limit": 1},
        headers=admin_headers,
    )
    assert redriven.status_code == 200, redriven.text
    assert redriven.json()["redriven"][0]["redriven"] is True
    unknown = await gateway.client.post(
        "/api/v1/admin/dead-letters/gateway/redrive", headers=admin_headers
    )
    assert unknown.status_code == 422
