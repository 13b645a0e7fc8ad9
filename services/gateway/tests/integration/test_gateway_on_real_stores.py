"""The whole gateway on real PostgreSQL and Redis, downstream services stood in."""

import asyncio
import uuid

import httpx
import pytest

from gateway.bootstrap import build_app, production_adapters
from gateway.settings import GatewaySettings
from service_kit.internal_auth import generate_key_pair

pytestmark = pytest.mark.integration

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"


def ready_downstream(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/health/ready":
        return httpx.Response(200, json={"status": "ready"})
    return httpx.Response(200, json={"items": [], "page": 1, "size": 20, "total": 0})


async def test_registers_logs_in_and_limits_failed_logins_through_redis(
    infrastructure, database_factory, redis_key_prefix
) -> None:
    settings = GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        internal_token_private_key=generate_key_pair()[0],
        jwt_secret=SECRET,
        database_url=await database_factory("gateway_app"),
        redis_url=infrastructure.redis_url,
        redis_key_prefix=f"{redis_key_prefix}app:",
        admin_email="owner@example.com",
        admin_password="Owner-Pass-2024!",
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        rate_limit_login_failures="3/minute",
        booking_command_url="http://booking-command.test",
        query_projection_url="http://query-projection.test",
        inventory_url="http://inventory.test",
    )
    adapters = production_adapters(settings)
    adapters.transport = httpx.MockTransport(ready_downstream)
    app = build_app(settings, adapters)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert {"postgres", "redis"} <= set(ready.json()["checks"])

            registered = await client.post(
                "/api/v1/auth/register",
                json={"email": "Real@Example.com", "password": "Sturdy-Horse-42", "name": "Real"},
            )
            assert registered.status_code == 201
            login = {"username": "real@example.com", "password": "Sturdy-Horse-42"}
            for _ in range(5):
                assert (await client.post("/api/v1/auth/token", data=login)).status_code == 200
            wrong = {"username": "owner@example.com", "password": "Not-The-Pass-1"}
            for _ in range(3):
                assert (await client.post("/api/v1/auth/token", data=wrong)).status_code == 401
            limited = await client.post("/api/v1/auth/token", data=login)
            assert limited.status_code == 429
            assert limited.json()["error_type"] == "too_many_failed_logins"
            assert int(limited.headers["Retry-After"]) >= 1


async def test_more_concurrent_requests_than_redis_connections_wait_for_one(
    infrastructure, redis_key_prefix
) -> None:
    settings = GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        internal_token_private_key=generate_key_pair()[0],
        jwt_secret=SECRET,
        redis_url=infrastructure.redis_url,
        redis_key_prefix=f"{redis_key_prefix}burst:",
    )
    adapters = production_adapters(settings)
    try:
        # A flash sale's burst, every request reading its read position at once: a burst
        # is not an outage, so none may be answered as if Redis were away.
        answers = await asyncio.gather(
            *(adapters.read_positions.marks(uuid.uuid4().hex) for _ in range(300))
        )
    finally:
        await adapters.on_shutdown[-1]()  # only Redis was opened
    assert [answer.caller for answer in answers] == [0] * 300
