"""The operators' console routes: the live sale for managers and admins, health and dead
letters for admins only; data from the services' probes, metrics, read models and internal
dead-letter routes."""

from __future__ import annotations

import json
import uuid

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
    ],
)
async def test_only_admins_reach_health_and_dead_letters(
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
    assert set(by_name) == {"gateway", "booking-command", "inventory", "query-projection", "entry"}
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
            asked = json.loads(request.content)
            if asked == {"dead_letter": "0@5"}:
                return httpx.Response(
                    409,
                    json={"detail": "Dead letter 0@5 was already re-driven", "error_type": "x"},
                )
            assert asked in ({"limit": 1}, {"dead_letter": "0@4"})
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
    for host in (
        backend.BOOKING_COMMAND,
        backend.INVENTORY,
        backend.QUERY_PROJECTION,
        backend.ENTRY,
    ):
        backend.scripted[host] = consumer
    listed = await gateway.client.get("/api/v1/admin/dead-letters", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    # booking-command consumes no topic: it has no dead letters to list.
    services = [item["service"] for item in listed.json()]
    assert services == ["inventory", "query-projection", "entry"]
    redriven = await gateway.client.post(
        "/api/v1/admin/dead-letters/query-projection/redrive",
        json={"limit": 1},
        headers=admin_headers,
    )
    assert redriven.status_code == 200, redriven.text
    assert redriven.json()["redriven"][0]["redriven"] is True
    chosen = await gateway.client.post(
        "/api/v1/admin/dead-letters/query-projection/redrive",
        json={"dead_letter": "0@4"},
        headers=admin_headers,
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["redriven"][0]["dead_letter"] == "0@4"
    again = await gateway.client.post(
        "/api/v1/admin/dead-letters/query-projection/redrive",
        json={"dead_letter": "0@5"},
        headers=admin_headers,
    )
    assert again.status_code == 409
    assert "already re-driven" in again.json()["detail"]
    for invalid in ({"dead_letter": "0@4", "limit": 1}, {"dead_letter": "zero"}):
        refused = await gateway.client.post(
            "/api/v1/admin/dead-letters/query-projection/redrive",
            json=invalid,
            headers=admin_headers,
        )
        assert refused.status_code == 422, invalid
    unknown = await gateway.client.post(
        "/api/v1/admin/dead-letters/gateway/redrive", headers=admin_headers
    )
    assert unknown.status_code == 422


async def test_managers_and_admins_watch_a_sale_with_booking_counts_per_status(
    gateway, user_headers, manager_headers, admin_headers
) -> None:
    backend = gateway.backend
    event_id, front, back = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    backend.events[event_id] = {
        "id": event_id,
        "name": "Flash sale",
        "status": "published",
        "version": 3,
        "ticket_types": [
            {"ticket_type_id": front, "name": "Front", "quantity": 10},
            {"ticket_type_id": back, "name": "Back", "quantity": 10},
        ],
    }
    backend.availability[event_id] = {front: 0, back: 4}
    for status in ("CONFIRMED", "CONFIRMED", "REJECTED", "PENDING"):
        booking_id = str(uuid.uuid4())
        backend.bookings[booking_id] = {"id": booking_id, "event_id": event_id, "status": status}
    path = f"/api/v1/admin/events/{event_id}/sale"

    for headers in (manager_headers, admin_headers):
        response = await gateway.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        sale = response.json()
        assert sale["bookings"] == {
            "PENDING": 1,
            "CONFIRMED": 2,
            "REJECTED": 1,
            "CANCELLED": 0,
            "EXPIRED": 0,
        }
        by_name = {item["name"]: item for item in sale["ticket_types"]}
        assert (by_name["Front"]["sold"], by_name["Front"]["sold_out"]) == (10, True)
        assert (by_name["Back"]["available"], by_name["Back"]["sold_out"]) == (4, False)
        assert sale["sold_out"] is False
    assert (await gateway.client.get(path, headers=user_headers)).status_code == 403
    assert (await gateway.client.get(path)).status_code == 401
    # The counts come from the read models' count route, asked as the manager.
    counted = [
        request
        for request in backend.calls_to(backend.QUERY_PROJECTION, "GET")
        if request.url.path.endswith("/booking-counts")
    ]
    assert len(counted) == 2
    assert not [
        request
        for request in backend.calls_to(backend.QUERY_PROJECTION, "GET")
        if request.url.path == "/internal/v1/bookings"
    ]


async def test_the_openapi_document_says_who_may_use_each_console_route(gateway) -> None:
    paths = (await gateway.client.get("/openapi.json")).json()["paths"]
    assert "managers and admins" in paths["/api/v1/admin/events/{event_id}/sale"]["get"]["summary"]
    assert "(admin)" in paths["/api/v1/admin/health"]["get"]["summary"]
