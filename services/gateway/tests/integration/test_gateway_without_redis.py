"""The gateway while its Redis is frozen (SIGSTOP), then killed and started empty: sold-out
answers and bookings keep coming, logouts keep revoking and stay revoked, limits count in the
process (docs/architecture.md, "Redis away"). Real PostgreSQL and a Redis server of the
test's own; downstream services stood in."""

import json
import time
import uuid

import httpx
import pytest

from gateway.bootstrap import build_app, production_adapters
from gateway.settings import GatewaySettings
from local_infra.redis_server import temporary_redis_server
from service_kit.internal_auth import generate_key_pair

pytestmark = pytest.mark.integration

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"
EVENT, SOLD_OUT, BOOKABLE = (str(uuid.uuid4()) for _ in range(3))
PASSWORD = "Sturdy-Horse-42"


class Downstream:
    """query-projection's availability answer and booking-command accepting every booking,
    recording every call."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.url.path == "/health/ready":
            return httpx.Response(200, json={"status": "ready"})
        if request.url.path == f"/internal/v1/events/{EVENT}/availability":
            levels = {SOLD_OUT: 0, BOOKABLE: 5}
            return httpx.Response(
                200,
                json={
                    "event_id": EVENT,
                    "ticket_types": [
                        {"ticket_type_id": key, "available": value, "sold_out": value == 0}
                        for key, value in levels.items()
                    ],
                },
            )
        if request.url.path == "/internal/v1/bookings":
            accepted = {"id": str(uuid.uuid4()), "status": "PENDING", "position": 7}
            return httpx.Response(202, json=accepted)
        if request.url.path == "/internal/v1/bookings/batch":
            items = json.loads(request.content)["requests"]
            outcomes = [
                {
                    "status_code": 202,
                    "body": {"id": str(uuid.uuid4()), "status": "PENDING", "position": 7},
                }
                for _ in items
            ]
            return httpx.Response(200, json={"outcomes": outcomes})
        return httpx.Response(503, json={"detail": "stand-in", "error_type": "unavailable"})

    def to(self, host: str) -> list[httpx.Request]:
        return [call for call in self.calls if call.url.host == host]


def a_booking(ticket_type_id: str) -> dict[str, object]:
    return {
        "event_id": EVENT,
        "ticket_type_id": ticket_type_id,
        "quantity": 1,
        "customer_name": "Zoë O'Brien",
        "customer_email": "zoe@example.com",
        "payment_token": "tok_visa",
    }


async def test_the_gateway_keeps_serving_while_redis_is_frozen_and_after_it_comes_back_empty(
    database_factory, redis_key_prefix
) -> None:
    downstream = Downstream()
    async with temporary_redis_server() as redis:
        settings = GatewaySettings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            internal_token_private_key=generate_key_pair()[0],
            jwt_secret=SECRET,
            database_url=await database_factory("gateway_without_redis"),
            redis_url=redis.url,
            redis_key_prefix=redis_key_prefix,
            password_hash_time_cost=1,
            password_hash_memory_kib=1024,
            rate_limit_booking="10/minute",
            rate_limit_share_without_redis=0.5,
            booking_command_url="http://booking-command.test",
            query_projection_url="http://query-projection.test",
            inventory_url="http://inventory.test",
        )
        adapters = production_adapters(settings)
        adapters.transport = httpx.MockTransport(downstream.handle)
        app = build_app(settings, adapters)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                await client.post(
                    "/api/v1/auth/register",
                    json={"email": "zoe@example.com", "password": PASSWORD, "name": "Zoë"},
                )

                async def log_in() -> dict[str, str]:
                    login = {"username": "zoe@example.com", "password": PASSWORD}
                    answer = await client.post("/api/v1/auth/token", data=login)
                    assert answer.status_code == 200, answer.text
                    return {"Authorization": f"Bearer {answer.json()['access_token']}"}

                async def me(headers: dict[str, str]) -> int:
                    return (await client.get("/api/v1/users/me", headers=headers)).status_code

                headers, leaving = await log_in(), await log_in()
                first = await client.post(
                    "/api/v1/bookings", json=a_booking(SOLD_OUT), headers=headers
                )
                assert first.status_code == 409
                assert first.headers["X-RateLimit-Limit"] == "10"  # counted in Redis

                redis.freeze()
                started = time.monotonic()
                sold_out = await client.post(
                    "/api/v1/bookings", json=a_booking(SOLD_OUT), headers=headers
                )
                booked = [
                    await client.post("/api/v1/bookings", json=a_booking(BOOKABLE), headers=headers)
                    for _ in range(6)
                ]
                logged_out = await client.post("/api/v1/auth/logout", headers=leaving)
                refused_while_away = await me(leaving)
                frozen_for = time.monotonic() - started
                ready = (await client.get("/health/ready")).json()

                redis.kill()
                redis.forget_data()
                await redis.start()
                refused_after_empty_restart = await me(leaving)
                still_served = await me(headers)

    assert sold_out.status_code == 409
    assert sold_out.json()["error_type"] == "sold_out"
    # Each process allows half the booking limit (5 of 10) while Redis is away.
    assert [answer.status_code for answer in booked] == [202] * 5 + [429], booked[0].text
    assert booked[0].headers["X-RateLimit-Limit"] == "5"
    # A few commands wait out Redis's timeout before its breaker opens; then none do.
    assert frozen_for < 20
    assert logged_out.status_code == 204
    assert refused_while_away == 401
    assert ready["status"] == "ready"
    assert ready["checks"]["redis"]["status"] != "ok"
    assert refused_after_empty_restart == 401
    assert still_served == 200
    assert len(downstream.to("booking-command.test")) >= 1
