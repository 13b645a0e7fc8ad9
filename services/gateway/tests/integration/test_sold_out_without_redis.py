"""Sold-out answers keep coming while the gateway's Redis is stopped (issue 21); the gateway
on real PostgreSQL and a Redis server of the test's own, downstream services stood in."""

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


class Downstream:
    """query-projection's availability answer and booking-command, recording every call."""

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


async def test_a_sold_out_answer_comes_while_redis_is_stopped(
    database_factory, redis_key_prefix
) -> None:
    downstream = Downstream()
    async with temporary_redis_server() as redis:
        settings = GatewaySettings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            internal_token_private_key=generate_key_pair()[0],
            jwt_secret=SECRET,
            database_url=await database_factory("gateway_sold_out"),
            redis_url=redis.url,
            redis_key_prefix=redis_key_prefix,
            password_hash_time_cost=1,
            password_hash_memory_kib=1024,
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
                    json={"email": "zoe@example.com", "password": "Sturdy-Horse-42", "name": "Zoë"},
                )
                login = {"username": "zoe@example.com", "password": "Sturdy-Horse-42"}
                token = (await client.post("/api/v1/auth/token", data=login)).json()
                headers = {"Authorization": f"Bearer {token['access_token']}"}
                first = await client.post(
                    "/api/v1/bookings", json=a_booking(SOLD_OUT), headers=headers
                )
                assert first.status_code == 409
                assert "X-RateLimit-Remaining" in first.headers  # the route answered, via Redis

                await redis.stop()

                sold_out = await client.post(
                    "/api/v1/bookings", json=a_booking(SOLD_OUT), headers=headers
                )
                bookable = await client.post(
                    "/api/v1/bookings", json=a_booking(BOOKABLE), headers=headers
                )

    assert sold_out.status_code == 409
    assert sold_out.json() == first.json()
    assert sold_out.json()["error_type"] == "sold_out"
    assert bookable.status_code == 503  # revocation fails closed without Redis
    assert downstream.to("booking-command.test") == []
