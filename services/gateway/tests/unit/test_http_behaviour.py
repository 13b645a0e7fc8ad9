import asyncio
import secrets

import pytest

VENUE = {"name": "Hall", "capacity": 10, "address": "Somewhere 1"}


async def test_every_answer_carries_the_security_headers(gateway) -> None:
    for path in ("/api/v1/venues", "/api/v1/users/me", "/health/live"):
        response = await gateway.client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in response.headers


async def test_production_adds_strict_transport_security(gateway_factory) -> None:
    async with gateway_factory(
        environment="production",
        database_url="postgresql://gw:Str0ngPassw0rd-x@db:5432/gw",
        jwt_secret=secrets.token_urlsafe(48),
    ) as gateway:
        response = await gateway.client.get("/health/live")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_large_answers_are_compressed(gateway, manager_headers) -> None:
    for _ in range(15):
        await gateway.client.post("/api/v1/venues", json=VENUE, headers=manager_headers)
    response = await gateway.client.get("/api/v1/venues", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.json()["items"]) == 15
    small = await gateway.client.get("/health/live", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


async def test_refuses_a_body_over_the_limit(gateway, manager_headers) -> None:
    huge = {**VENUE, "address": "x" * (gateway.settings.max_request_body_bytes + 1)}
    response = await gateway.client.post("/api/v1/venues", json=huge, headers=manager_headers)
    assert response.status_code == 413
    assert response.json()["error_type"] == "payload_too_large"
    assert "X-Request-ID" in response.headers
    assert gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND) == []


async def test_refuses_a_streamed_body_over_the_limit(gateway, manager_headers) -> None:
    async def chunks():
        for _ in range(gateway.settings.max_request_body_bytes // 1024 + 2):
            yield b"x" * 1024

    response = await gateway.client.post(
        "/api/v1/venues",
        content=chunks(),
        headers={**manager_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_cors_allows_only_configured_origins(gateway) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Idempotency-Key",
    }
    allowed = await gateway.client.options(
        "/api/v1/bookings", headers={"Origin": "https://tickets.test", **preflight}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://tickets.test"
    refused = await gateway.client.options(
        "/api/v1/bookings", headers={"Origin": "https://evil.test", **preflight}
    )
    assert "Access-Control-Allow-Origin" not in refused.headers


async def test_a_cross_origin_read_gets_cors_security_and_compression_together(
    gateway, manager_headers
) -> None:
    for _ in range(15):
        await gateway.client.post("/api/v1/venues", json=VENUE, headers=manager_headers)
    response = await gateway.client.get(
        "/api/v1/venues", headers={"Origin": "https://tickets.test", "Accept-Encoding": "gzip"}
    )
    assert response.headers["Access-Control-Allow-Origin"] == "https://tickets.test"
    assert "X-Read-Position" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "X-Request-ID" in response.headers


async def test_a_limited_client_gets_through_after_its_retry_after(gateway_factory) -> None:
    async with gateway_factory(rate_limit_default="2/second") as gateway:
        answers = [await gateway.client.get("/api/v1/venues") for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 429]
        await asyncio.sleep(int(answers[-1].headers["Retry-After"]))
        assert (await gateway.client.get("/api/v1/venues")).status_code == 200


async def test_booking_is_limited_per_user(gateway_factory) -> None:
    async with gateway_factory(rate_limit_booking="1/minute") as gateway:
        first = await gateway.headers_for("user")
        second = await gateway.headers_for("user")
        body = {
            "event_id": "0" * 32,
            "ticket_type_id": "1" * 32,
            "quantity": 1,
            "customer_name": "A B",
            "customer_email": "a@example.com",
            "payment_token": "tok_visa",
        }
        one = await gateway.client.post("/api/v1/bookings", json=body, headers=first)
        two = await gateway.client.post("/api/v1/bookings", json=body, headers=first)
        other = await gateway.client.post("/api/v1/bookings", json=body, headers=second)
        assert one.status_code != 429
        assert two.status_code == 429
        assert other.status_code != 429


async def test_limits_can_be_switched_off(gateway_factory) -> None:
    async with gateway_factory(rate_limit_default="1/minute", rate_limits_enabled=False) as gateway:
        statuses = [(await gateway.client.get("/api/v1/venues")).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]


async def test_the_api_is_documented_with_errors_and_security(gateway) -> None:
    schema = (await gateway.client.get("/openapi.json")).json()
    booking = schema["paths"]["/api/v1/bookings"]["post"]
    assert booking["summary"]
    assert booking["tags"] == ["bookings"]
    assert {"202", "401", "409", "422", "429", "503"} <= set(booking["responses"])
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]
    venue = schema["components"]["schemas"]["CreateVenue"]["properties"]["name"]
    assert venue["examples"]


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics", "/docs", "/openapi.json"])
async def test_operational_routes_are_not_reachable_through_the_public_edge(gateway, path) -> None:
    through_edge = await gateway.client.get(path, headers={"X-Forwarded-For": "203.0.113.9"})
    assert through_edge.status_code == 404
    inside_cluster = await gateway.client.get(path)
    assert inside_cluster.status_code in (200, 503)


async def test_liveness_is_reachable_through_the_public_edge(gateway) -> None:
    response = await gateway.client.get("/health/live", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 200
