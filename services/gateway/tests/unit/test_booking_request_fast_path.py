"""Bookable requests are answered before FastAPI (issue 21), exactly as the route answers them:
same checks in the same order, same answers, headers, metrics, log line and trace."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from gateway.bootstrap import GatewayAdapters
from gateway.domain.permissions import ROLE_PERMISSIONS
from gateway.entrypoints.http.deps import get_services
from service_kit.tracing import configure_tracing, shutdown_tracing

from .conftest import Gateway

BOOKINGS = "/api/v1/bookings"
GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]
# What differs between two answers to the same request: ids, positions, the limit's countdown.
PER_ANSWER = {"id", "position", "location", "x-read-position", "x-request-id", "x-correlation-id"}
PER_ANSWER |= {"content-length", "x-ratelimit-remaining", "x-ratelimit-reset"}


def on_sale(gateway: Gateway, available: int = 5) -> tuple[str, str]:
    event_id, ticket_type_id = str(uuid.uuid4()), str(uuid.uuid4())
    gateway.backend.events[event_id] = {"id": event_id, "status": "published"}
    gateway.backend.availability[event_id] = {ticket_type_id: available}
    return event_id, ticket_type_id


def a_booking(event_id: str, ticket_type_id: str, **changes: object) -> dict[str, object]:
    return {
        "event_id": event_id,
        "ticket_type_id": ticket_type_id,
        "quantity": 2,
        "customer_name": "Zoë O'Brien",
        "customer_email": "Zoe@Example.com",
        "payment_token": "tok_visa",
        **changes,
    }


async def by_route(
    gateway: Gateway, body: dict[str, object], headers: dict[str, str]
) -> httpx.Response:
    """The same request with a body of undeclared length (chunked), which only the FastAPI
    route reads: what the route itself answers, to compare with."""
    content = httpx.Request("POST", "/", json=body).content

    async def chunks() -> AsyncIterator[bytes]:
        yield content

    return await gateway.client.post(
        BOOKINGS, content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )


def comparable(answer: httpx.Response) -> dict[str, object]:
    return {
        "status": answer.status_code,
        "body": {k: v for k, v in answer.json().items() if k not in PER_ANSWER},
        "headers": {k: v for k, v in answer.headers.items() if k not in PER_ANSWER},
    }


def bookings_sent(gateway: Gateway) -> list[httpx.Request]:
    return gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST")


def handled(status: str) -> float:
    labels = {"method": "POST", "route": BOOKINGS, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def limited() -> float:
    return REGISTRY.get_sample_value("rate_limited_total", {"route": BOOKINGS}) or 0.0


async def test_a_bookable_request_is_forwarded_and_answered_without_fastapi(
    gateway: Gateway, user_headers: dict[str, str]
) -> None:
    routed: list[str] = []

    async def services_for_routes() -> Any:
        routed.append("FastAPI solved a route's dependencies")
        return gateway.app.state.services

    gateway.app.dependency_overrides[get_services] = services_for_routes
    event_id, ticket_type_id = on_sale(gateway)
    headers = {**user_headers, "Idempotency-Key": "try-1", "X-Request-ID": "booking-1"}

    answer = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, ticket_type_id), headers=headers
    )

    assert answer.status_code == 202
    booking = answer.json()
    assert booking["status"] == "PENDING"
    assert answer.headers["Location"] == f"{BOOKINGS}/{booking['id']}"
    assert answer.headers["X-Read-Position"] == str(booking["position"])
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Request-ID"] == answer.headers["X-Correlation-ID"] == "booking-1"
    assert answer.headers["X-RateLimit-Remaining"] == "29"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    [sent] = bookings_sent(gateway)
    assert sent.headers["Idempotency-Key"] == "try-1"
    assert sent.headers["X-Correlation-ID"] == "booking-1"
    assert json.loads(sent.content) == {
        **a_booking(event_id, ticket_type_id),
        "customer_email": "zoe@example.com",
    }
    assert routed == []


async def test_the_answer_is_the_one_the_route_gives(
    gateway: Gateway, user_headers: dict[str, str]
) -> None:
    event_id, ticket_type_id = on_sale(gateway)
    body = a_booking(event_id, ticket_type_id)

    routed = await by_route(gateway, body, {**user_headers, "Idempotency-Key": "by-route"})
    fast = await gateway.client.post(
        BOOKINGS, json=body, headers={**user_headers, "Idempotency-Key": "fast"}
    )

    assert comparable(fast) == comparable(routed)
    assert set(fast.headers) == set(routed.headers)


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (409, {"detail": "Ticket type t is sold out", "error_type": "sold_out"}, {}),
        (
            409,
            {
                "detail": "the ticket type is not on sale now",
                "error_type": "not_on_sale",
                "sale_starts_at": "2031-05-01T10:00:00Z",
                "sale_ends_at": None,
            },
            {},
        ),
        (
            409,
            {
                "detail": "this booking would take the account past the event's limit",
                "error_type": "purchase_limit_reached",
                "limit_scope": "event",
                "max_tickets_per_account": 4,
                "tickets_held_or_bought": 3,
            },
            {},
        ),
        (
            503,
            {"detail": "inventory cannot answer now", "error_type": "dependency_unavailable"},
            {"Retry-After": "4"},
        ),
    ],
)
async def test_booking_commands_refusal_is_passed_on(
    gateway: Gateway,
    user_headers: dict[str, str],
    status: int,
    body: dict[str, object],
    headers: dict[str, str],
) -> None:
    event_id, ticket_type_id = on_sale(gateway)
    gateway.backend.scripted[gateway.backend.BOOKING_COMMAND] = lambda _: httpx.Response(
        status, json=body, headers=headers
    )

    answer = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, ticket_type_id), headers=user_headers
    )
    routed = await by_route(gateway, a_booking(event_id, ticket_type_id), user_headers)

    assert answer.status_code == routed.status_code == status
    assert answer.json() == routed.json() == body
    assert answer.headers.get("Retry-After") == headers.get("Retry-After")
    assert "X-RateLimit-Remaining" in answer.headers
    assert gateway.app.state.breakers["booking-command"].current_state == "closed"


INVALID = a_booking(str(uuid.uuid4()), str(uuid.uuid4()), quantity=11, customer_email="nope")
QUANTITY_PROBLEM = {
    "field": "body.quantity",
    "message": "Input should be less than or equal to 10",
    "type": "less_than_equal",
}
EMAIL_PROBLEM = {
    "field": "body.customer_email",
    "message": "value is not a valid email address: An email address must have an @-sign.",
    "type": "value_error",
}
KEY_PROBLEM = {
    "field": "header.Idempotency-Key",
    "message": "String should match pattern '^[A-Za-z0-9._:\\-]{1,200}$'",
    "type": "string_pattern_mismatch",
}


def problems(*found: dict[str, str]) -> dict[str, object]:
    return {
        "detail": "; ".join(f"{p['field']}: {p['message']}" for p in found),
        "error_type": "validation_error",
        "errors": list(found),
    }


async def test_an_invalid_booking_gets_the_same_validation_answer_as_before(
    gateway: Gateway, user_headers: dict[str, str]
) -> None:
    invalid = await gateway.client.post(BOOKINGS, json=INVALID, headers=user_headers)
    bad_key = await gateway.client.post(
        BOOKINGS,
        json=a_booking(*on_sale(gateway)),
        headers={**user_headers, "Idempotency-Key": "no spaces"},
    )
    both = await gateway.client.post(
        BOOKINGS, json=INVALID, headers={**user_headers, "Idempotency-Key": "no spaces"}
    )
    not_json = await gateway.client.post(
        BOOKINGS, content=b"{", headers={**user_headers, "Content-Type": "application/json"}
    )

    assert invalid.status_code == bad_key.status_code == both.status_code == 422
    assert invalid.json() == problems(QUANTITY_PROBLEM, EMAIL_PROBLEM)
    assert bad_key.json() == problems(KEY_PROBLEM)
    assert both.json() == problems(KEY_PROBLEM, QUANTITY_PROBLEM, EMAIL_PROBLEM)
    assert (not_json.status_code, not_json.json()["errors"][0]["type"]) == (422, "json_invalid")
    # Counted against the limits as before: the route checks the caller, then the body.
    assert invalid.headers["X-RateLimit-Remaining"] == "29"
    assert "X-RateLimit-Remaining" not in not_json.headers  # unreadable JSON: refused first
    assert bookings_sent(gateway) == []


async def test_a_request_without_a_token_gets_401(gateway: Gateway) -> None:
    answer = await gateway.client.post(BOOKINGS, json=a_booking(*on_sale(gateway)))

    assert answer.status_code == 401
    assert answer.json() == {
        "detail": "Not authenticated: send an 'Authorization: Bearer <token>' header",
        "error_type": "unauthorized",
    }
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert bookings_sent(gateway) == []


async def test_a_bad_token_gets_401_before_the_body_is_looked_at(gateway: Gateway) -> None:
    garbage = gateway.bearer("not-a-token")

    valid = await gateway.client.post(BOOKINGS, json=a_booking(*on_sale(gateway)), headers=garbage)
    invalid = await gateway.client.post(BOOKINGS, json=INVALID, headers=garbage)

    assert valid.status_code == invalid.status_code == 401
    assert (
        valid.json()
        == invalid.json()
        == {
            "detail": "The access token is invalid",
            "error_type": "unauthorized",
        }
    )
    assert valid.headers["WWW-Authenticate"] == "Bearer"
    assert "X-RateLimit-Remaining" not in valid.headers


async def test_a_logged_out_token_gets_401_and_books_nothing(gateway: Gateway) -> None:
    await gateway.register("leaving@example.com")
    headers = gateway.bearer(await gateway.token("leaving@example.com"))
    assert (await gateway.client.post("/api/v1/auth/logout", headers=headers)).status_code == 204

    answer = await gateway.client.post(BOOKINGS, json=a_booking(*on_sale(gateway)), headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {
        "detail": "The access token is no longer valid; log in again",
        "error_type": "unauthorized",
    }
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert bookings_sent(gateway) == []


async def test_a_caller_over_the_limit_gets_429_counted_with_the_routes_requests(
    gateway_factory: GatewayFactory,
) -> None:
    async with gateway_factory(rate_limit_booking="3/minute") as gateway:
        headers = await gateway.headers_for("user")
        body = a_booking(*on_sale(gateway, available=100))
        refused_before = limited()

        routed = await by_route(gateway, body, headers)
        fast = [await gateway.client.post(BOOKINGS, json=body, headers=headers) for _ in range(3)]

        assert routed.status_code == 202
        assert [answer.status_code for answer in fast] == [202, 202, 429]
        refused = fast[-1]
        assert refused.json() == {
            "detail": "Too many requests; try again later",
            "error_type": "rate_limited",
        }
        assert 1 <= int(refused.headers["Retry-After"]) <= 120
        assert refused.headers["X-RateLimit-Limit"] == "3"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert limited() == refused_before + 1
        assert len(bookings_sent(gateway)) == 3


async def test_a_role_that_may_not_book_gets_403_after_being_counted(
    gateway: Gateway, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ROLE_PERMISSIONS, "user", frozenset())
    body = a_booking(*on_sale(gateway))

    routed = await by_route(gateway, body, user_headers)
    fast = await gateway.client.post(BOOKINGS, json=body, headers=user_headers)

    assert routed.status_code == fast.status_code == 403
    assert (
        fast.json()
        == routed.json()
        == {
            "detail": "The user role may not do this (book)",
            "error_type": "forbidden",
        }
    )
    assert fast.headers["X-RateLimit-Remaining"] == "28"
    assert bookings_sent(gateway) == []


async def test_a_fast_answer_is_counted_and_logged_under_the_route(
    gateway: Gateway, user_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    body = a_booking(*on_sale(gateway))
    before = handled("202")
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="service_kit.access"):
        answer = await gateway.client.post(BOOKINGS, json=body, headers=user_headers)

    assert answer.status_code == 202
    assert handled("202") == before + 1
    [line] = [record for record in caplog.records if record.name == "service_kit.access"]
    assert (line.route, line.status) == (BOOKINGS, 202)  # type: ignore[attr-defined]


async def test_the_route_is_still_documented(gateway: Gateway) -> None:
    schema = (await gateway.client.get("/openapi.json")).json()

    operation = schema["paths"][BOOKINGS]["post"]
    assert operation["tags"] == ["bookings"]
    assert operation["security"] == [{"OAuth2PasswordBearer": []}]
    assert set(operation["responses"]) == {
        "202",
        *("400", "401", "403", "404", "409", "413", "422", "429", "503"),
    }
    assert operation["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookingOut"
    }
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RequestBooking"
    }
    assert [parameter["name"] for parameter in operation["parameters"]] == [
        "Idempotency-Key",
        "X-Admission-Pass",
    ]


CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


class CarriesTheTrace(httpx.AsyncBaseTransport):
    """What httpx's instrumentation does on a real transport (the stand-ins' is not one):
    the current trace goes out in `traceparent`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        propagate.inject(request.headers)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("gateway", exporter=exporter)
    yield exporter
    shutdown_tracing()


async def test_the_booking_continues_the_callers_trace_under_the_routes_name(
    gateway_factory: GatewayFactory, spans: InMemorySpanExporter
) -> None:
    def carry_the_trace(adapters: GatewayAdapters) -> None:
        assert adapters.transport is not None
        adapters.transport = CarriesTheTrace(adapters.transport)

    async with gateway_factory(customise=carry_the_trace) as gateway:
        headers = await gateway.headers_for("user")
        traceparent = f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"

        answer = await gateway.client.post(
            BOOKINGS,
            json=a_booking(*on_sale(gateway)),
            headers={**headers, "traceparent": traceparent},
        )

        assert answer.status_code == 202
        [server] = [
            span
            for span in spans.get_finished_spans()
            if span.kind == SpanKind.SERVER
            and format(span.context.trace_id, "032x") == CALLER_TRACE_ID
        ]
        assert server.name == f"POST {BOOKINGS}"
        assert server.attributes is not None
        assert server.attributes["http.route"] == BOOKINGS
        assert server.parent is not None
        assert format(server.parent.span_id, "016x") == CALLER_SPAN_ID
        [sent] = bookings_sent(gateway)
        assert sent.headers["traceparent"].split("-")[1] == CALLER_TRACE_ID
