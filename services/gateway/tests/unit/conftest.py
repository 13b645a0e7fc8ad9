"""Unit-test fixtures: the gateway on stand-ins for its downstream services.

The stand-ins for booking-command, query-projection and inventory sit behind
httpx.MockTransport.

They keep just enough state to answer like the real internal APIs, record every
request the gateway makes, and can be told to fail or be unreachable.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from fastapi import FastAPI

from gateway.bootstrap import GatewayAdapters, build_app, in_memory_adapters
from gateway.settings import GatewaySettings
from service_kit.internal_auth import generate_key_pair

BOOKING_COMMAND = "booking-command.test"
QUERY_PROJECTION = "query-projection.test"
INVENTORY = "inventory.test"
ENTRY = "entry.test"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def _error(status: int, detail: str, error_type: str, **headers: str) -> httpx.Response:
    return _json(status, {"detail": detail, "error_type": error_type}, headers)


STAND_IN_CALLER = "X-Stand-In-Caller"  # a batch item's caller, inside the stand-in only


def internal_claims(request: httpx.Request) -> dict[str, Any]:
    """The claims of the internal token the gateway sent (its signature is the services' job)."""
    token = request.headers["Authorization"].removeprefix("Bearer ")
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def caller_of(request: httpx.Request) -> tuple[str, str]:
    if STAND_IN_CALLER in request.headers:
        caller, _, role = request.headers[STAND_IN_CALLER].partition(":")
        return caller, role
    claims = internal_claims(request)
    return claims.get("sub", ""), claims["role"]


@dataclass
class StandInBackend:
    BOOKING_COMMAND = BOOKING_COMMAND
    QUERY_PROJECTION = QUERY_PROJECTION
    INVENTORY = INVENTORY
    ENTRY = ENTRY

    venues: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    availability: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    replies: dict[str, httpx.Response] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    failing: dict[str, int] = field(default_factory=dict)
    scripted: dict[str, Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)
    delay_seconds: float = 0.0
    position: int = 0

    def calls_to(self, host: str, method: str | None = None) -> list[httpx.Request]:
        return [
            request
            for request in self.requests
            if request.url.host == host and (method is None or request.method == method)
        ]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.requests.append(request)
        if host in self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        if host in self.scripted:
            return self.scripted[host](request)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if host in self.failing:
            return _error(self.failing[host], "boom", "internal_error")
        if request.url.path.startswith("/health/"):
            return _json(200, {"status": "ready"})
        if host == BOOKING_COMMAND and request.url.path == "/internal/v1/bookings/batch":
            return self._command_batch(request)
        if host == BOOKING_COMMAND:
            return self._command(request)
        if host == QUERY_PROJECTION:
            return self._query(request)
        return _error(404, "no such route", "not_found")

    # booking-command

    def _written(self, document: dict[str, Any]) -> dict[str, Any]:
        self.position += 1
        document["version"] = document.get("version", 0) + 1
        return {**document, "position": self.position}

    def batches(self) -> list[list[dict[str, Any]]]:
        """The items of every batch call booking-command received, in order."""
        return [
            json.loads(request.content)["requests"]
            for request in self.calls_to(BOOKING_COMMAND, "POST")
            if request.url.path == "/internal/v1/bookings/batch"
        ]

    def _command_batch(self, request: httpx.Request) -> httpx.Response:
        outcomes = []
        for item in json.loads(request.content)["requests"]:
            headers = {STAND_IN_CALLER: f"{item['caller_id']}:{item['caller_role']}"}
            if item.get("idempotency_key"):
                headers["Idempotency-Key"] = item["idempotency_key"]
            single = httpx.Request(
                "POST",
                f"http://{BOOKING_COMMAND}/internal/v1/bookings",
                headers=headers,
                json=item["command"],
            )
            answer = self._command(single)
            outcomes.append({"status_code": answer.status_code, "body": answer.json()})
        return _json(200, {"outcomes": outcomes})

    def _command(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.replies:
            return self.replies[key]
        response = self._command_effect(request)
        if key is not None and response.status_code < 500:
            self.replies[key] = response
        return response

    def _command_effect(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix("/internal/v1/").split("/")
        body = json.loads(request.content) if request.content else {}
        method = request.method
        if parts[0] == "venues":
            if method == "POST":
                venue = {"id": str(uuid.uuid4()), **body}
                self.venues[venue["id"]] = venue
                return _json(201, self._written(venue))
            venue = self.venues.get(parts[1])
            if venue is None:
                return _error(404, f"Venue {parts[1]} not found", "not_found")
            if method == "PUT":
                venue.update(body)
                return _json(200, self._written(venue))
            del self.venues[parts[1]]
            return _json(200, self._written({"id": parts[1], "deleted": True}))
        if parts[0] == "events":
            if method == "POST" and len(parts) == 1:
                event = {"id": str(uuid.uuid4()), "status": "draft", **body}
                event["ticket_types"] = [
                    {"ticket_type_id": str(uuid.uuid4()), **ticket_type}
                    for ticket_type in body["ticket_types"]
                ]
                self.events[event["id"]] = event
                return _json(201, self._written(event))
            event = self.events.get(parts[1])
            if event is None:
                return _error(404, f"Event {parts[1]} not found", "not_found")
            if len(parts) == 3 and parts[2] == "publish":
                if event["status"] == "published":
                    return _error(409, "event is already published", "already_published")
                event["status"] = "published"
            elif len(parts) == 3 and parts[2] == "cancel":
                event["status"] = "cancelled"
            elif len(parts) == 3 and parts[2] == "ticket-types":
                event["ticket_types"].append({"ticket_type_id": str(uuid.uuid4()), **body})
            else:
                event.update(body)
            return _json(200, self._written(event))
        if parts[0] == "bookings":
            caller, role = caller_of(request)
            if len(parts) == 1:
                event = self.events.get(body["event_id"])
                if event is None or event["status"] != "published":
                    return _error(409, "The event is not on sale", "event_not_on_sale")
                if event.get("sale_starts_at") is not None:
                    # The stand-in's sale has not opened (inventory's words, passed on).
                    window = {k: event.get(k) for k in ("sale_starts_at", "sale_ends_at")}
                    return _json(
                        409,
                        {"detail": "not on sale now", "error_type": "not_on_sale", **window},
                    )
                booking = {
                    "id": str(uuid.uuid4()),
                    "status": "PENDING",
                    "owner_id": caller,
                    "total_price": "20.00",
                    "currency": "EUR",
                    "hold_expires_at": "2030-01-01T00:00:00Z",
                    **body,
                }
                self.bookings[booking["id"]] = booking
                written = self._written(booking)
                return _json(202, written, {"Location": f"/internal/v1/bookings/{booking['id']}"})
            booking = self.bookings.get(parts[1])
            if booking is None or (booking["owner_id"] != caller and role != "admin"):
                return _error(404, f"Booking {parts[1]} not found", "not_found")
            booking["status"] = "CANCELLED"
            return _json(200, self._written(booking))
        return _error(404, "no such route", "not_found")

    # query-projection

    def _query(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix("/internal/v1/").split("/")
        collection = {"venues": self.venues, "events": self.events, "bookings": self.bookings}
        if parts[0] == "events" and len(parts) == 2 and parts[1] == "popular":
            return _json(
                200, list(self.events.values())[: int(request.url.params.get("limit", 10))]
            )
        if parts[0] == "events" and len(parts) == 3 and parts[2] == "booking-counts":
            if caller_of(request)[1] not in ("manager", "admin"):
                return _error(403, "managers and admins only", "forbidden")
            statuses = ("PENDING", "CONFIRMED", "REJECTED", "CANCELLED", "EXPIRED")
            counts = {status: 0 for status in statuses}
            for booking in self.bookings.values():
                if booking["event_id"] == parts[1]:
                    counts[booking["status"]] += 1
            return _json(
                200, {"event_id": parts[1], "counts": counts, "total": sum(counts.values())}
            )
        if parts[0] == "events" and len(parts) == 3 and parts[2] == "availability":
            if parts[1] not in self.availability:
                return _error(404, "no availability", "not_found")
            return _json(
                200,
                {
                    "event_id": parts[1],
                    "ticket_types": [
                        {
                            "ticket_type_id": ticket_type_id,
                            "quantity": 10,
                            "reserved": 0,
                            "sold": 10 - available,
                            "available": available,
                            "sold_out": available == 0,
                        }
                        for ticket_type_id, available in self.availability[parts[1]].items()
                    ],
                },
            )
        documents = collection.get(parts[0])
        if documents is None:
            return _error(404, "no such route", "not_found")
        if len(parts) == 1:
            items = list(documents.values())
            owner = request.url.params.get("owner_id")
            if owner is not None:
                items = [item for item in items if item.get("owner_id") == owner]
            page = {"items": items, "page": 1, "size": 20, "total": len(items)}
            return _json(200, page, {"ETag": f'"list-{self.position}"'})
        document = documents.get(parts[1])
        if document is None:
            return _error(404, f"{parts[0][:-1].title()} {parts[1]} not found", "not_found")
        etag = f'"{parts[1]}-{document.get("version", 0)}"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return _json(200, document, {"ETag": etag})


# ---------------------------------------------------------------- fixtures

JWT_TEST_SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"
INTERNAL_TOKEN_PRIVATE_KEY, INTERNAL_TOKEN_PUBLIC_KEY = generate_key_pair()
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "Admin-Pass-2024!"
PASSWORD = "Sturdy-Horse-42"


def make_settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "environment": "test",
        "jwt_secret": JWT_TEST_SECRET,
        "internal_token_private_key": INTERNAL_TOKEN_PRIVATE_KEY,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "booking_command_url": f"http://{BOOKING_COMMAND}",
        "query_projection_url": f"http://{QUERY_PROJECTION}",
        "inventory_url": f"http://{INVENTORY}",
        "entry_url": f"http://{ENTRY}",
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        "retry_initial_seconds": 0,
        "retry_max_seconds": 0,
        "breaker_fail_max": 3,
        "breaker_reset_seconds": 1,
        "sse_poll_interval_seconds": 0.01,
        "sse_max_duration_seconds": 5,
        "health_cache_seconds": 0,  # the tests change a dependency and look at once
        "cors_allowed_origins": ["https://tickets.test"],
    }
    values.update(overrides)
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Gateway:
    """A gateway app on stand-in downstream services, with a client and account helpers."""

    app: FastAPI
    client: httpx.AsyncClient
    backend: StandInBackend
    settings: GatewaySettings

    ADMIN_EMAIL = ADMIN_EMAIL
    ADMIN_PASSWORD = ADMIN_PASSWORD
    PASSWORD = PASSWORD

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return bearer(token)

    async def register(self, email: str, role: str = "user") -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": "Test User"},
        )
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        if role != "user":
            admin = await self.token(ADMIN_EMAIL, ADMIN_PASSWORD)
            granted = await self.client.put(
                f"/api/v1/users/{user['id']}/role", json={"role": role}, headers=bearer(admin)
            )
            assert granted.status_code == 200, granted.text
        return user

    async def token(self, email: str, password: str = PASSWORD) -> str:
        response = await self.client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def headers_for(self, role: str) -> dict[str, str]:
        if role == "admin":
            return bearer(await self.token(ADMIN_EMAIL, ADMIN_PASSWORD))
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        await self.register(email, role)
        return bearer(await self.token(email))

    async def user_with_id(self, role: str = "user") -> tuple[str, dict[str, str]]:
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        user = await self.register(email, role)
        return user["id"], bearer(await self.token(email))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_gateway(
    *, customise: Callable[[GatewayAdapters], None] | None = None, **overrides: Any
) -> AsyncIterator[Gateway]:
    backend = StandInBackend()
    settings = make_settings(**overrides)
    adapters = in_memory_adapters(httpx.MockTransport(backend.handle))
    if customise is not None:
        customise(adapters)
    app = build_app(settings, adapters)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Gateway(app, client, backend, settings)


@pytest.fixture
def gateway_factory() -> Callable[..., AbstractAsyncContextManager[Gateway]]:
    return running_gateway


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with running_gateway() as running:
        yield running


@pytest_asyncio.fixture
async def admin_headers(gateway: Gateway) -> dict[str, str]:
    return await gateway.headers_for("admin")


@pytest_asyncio.fixture
async def manager_headers(gateway: Gateway) -> dict[str, str]:
    return await gateway.headers_for("manager")


@pytest_asyncio.fixture
async def user_headers(gateway: Gateway) -> dict[str, str]:
    return await gateway.headers_for("user")
