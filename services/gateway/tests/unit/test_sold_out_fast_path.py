"""Sold-out answers come from the token and the stock alone (issue 21): no Redis, no
booking-command; every other booking request meets revocation and rate limits as before."""

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

import jwt
import pytest
from prometheus_client import REGISTRY

from gateway.adapters.rate_limits import (
    InMemoryWindowCounters,
    RateLimitDecision,
    WindowCheck,
    WindowCountersWithFallback,
)
from gateway.bootstrap import GatewayAdapters

BOOKINGS = "/api/v1/bookings"
RATE_LIMIT_HEADERS = {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}


class StoppableRedis:
    """The Redis behind rate limits: counts what it is asked and, once stopped, fails as
    a Redis client does."""

    def __init__(self) -> None:
        self.stopped = False
        self.calls = 0

    def ask(self) -> None:
        self.calls += 1
        if self.stopped:
            raise ConnectionError("Redis is stopped")


class WindowCountersOn(InMemoryWindowCounters):
    def __init__(self, redis: StoppableRedis) -> None:
        super().__init__()
        self.redis = redis

    async def hit(self, checks: Sequence[WindowCheck]) -> list[RateLimitDecision]:
        self.redis.ask()
        return await super().hit(checks)


@pytest.fixture
def redis() -> StoppableRedis:
    return StoppableRedis()


@pytest.fixture
def on_redis(redis: StoppableRedis):  # type: ignore[no-untyped-def]
    def customise(adapters: GatewayAdapters) -> None:
        adapters.rate_limits = WindowCountersWithFallback(WindowCountersOn(redis), share=0.5)

    return customise


def a_booking(event_id: str, ticket_type_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "ticket_type_id": ticket_type_id,
        "quantity": 2,
        "customer_name": "Zoë O'Brien",
        "customer_email": "zoe@example.com",
        "payment_token": "tok_visa",
    }


def on_sale(gateway) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A published event with one ticket type that has nothing left."""
    event_id, sold_out_type = str(uuid.uuid4()), str(uuid.uuid4())
    gateway.backend.events[event_id] = {"id": event_id, "status": "published"}
    gateway.backend.availability[event_id] = {sold_out_type: 0}
    return event_id, sold_out_type


async def sold_out_event(gateway, headers) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """An event with a sold-out type and a bookable one; the gateway has already answered a
    booking for it the usual way, so it knows the event's stock."""
    event_id, sold_out_type = on_sale(gateway)
    bookable_type = str(uuid.uuid4())
    gateway.backend.availability[event_id][bookable_type] = 5
    first = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, sold_out_type), headers=headers
    )
    assert first.status_code == 409
    return event_id, sold_out_type, bookable_type


def requests_handled(status: str) -> float:
    labels = {"method": "POST", "route": BOOKINGS, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


async def test_a_sold_out_answer_needs_neither_redis_nor_booking_command(
    gateway_factory, on_redis, redis
) -> None:
    async with gateway_factory(customise=on_redis) as gateway:
        headers = await gateway.headers_for("user")
        event_id, sold_out_type, bookable_type = await sold_out_event(gateway, headers)
        redis.stopped = True
        asked_of_redis = redis.calls
        commands = len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND))

        answer = await gateway.client.post(
            BOOKINGS,
            json=a_booking(event_id, sold_out_type),
            headers={**headers, "X-Request-ID": "sold-out-1", "Idempotency-Key": "try-1"},
        )

        assert answer.status_code == 409
        assert answer.json() == {
            "detail": f"Ticket type {sold_out_type} is sold out",
            "error_type": "sold_out",
        }
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["X-Request-ID"] == "sold-out-1"
        assert answer.headers["X-Correlation-ID"] == "sold-out-1"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert redis.calls == asked_of_redis
        assert len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND)) == commands

        bookable = await gateway.client.post(
            BOOKINGS, json=a_booking(event_id, bookable_type), headers=headers
        )
        assert bookable.status_code == 202  # revocations and limits do without Redis
        assert len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND)) == commands + 1


async def test_the_sold_out_answer_looks_like_the_routes_own(gateway, user_headers) -> None:
    event_id, sold_out_type = on_sale(gateway)
    body = a_booking(event_id, sold_out_type)

    by_route = await gateway.client.post(BOOKINGS, json=body, headers=user_headers)
    fast = await gateway.client.post(BOOKINGS, json=body, headers=user_headers)

    assert by_route.status_code == fast.status_code == 409
    assert fast.json() == by_route.json()
    # Only the rate limit's headers are missing: the answer is not counted against it.
    assert set(by_route.headers) - set(fast.headers) == RATE_LIMIT_HEADERS
    assert set(fast.headers) <= set(by_route.headers)


async def test_a_sold_out_answer_is_counted_and_logged_under_the_route(
    gateway, user_headers, caplog: pytest.LogCaptureFixture
) -> None:
    event_id, sold_out_type = on_sale(gateway)
    body = a_booking(event_id, sold_out_type)
    await gateway.client.post(BOOKINGS, json=body, headers=user_headers)
    before = requests_handled("409")
    caplog.clear()  # the first request's line, when another test left the logger at INFO

    with caplog.at_level(logging.INFO, logger="service_kit.access"):
        answer = await gateway.client.post(BOOKINGS, json=body, headers=user_headers)

    assert answer.status_code == 409
    assert requests_handled("409") == before + 1
    [line] = [record for record in caplog.records if record.name == "service_kit.access"]
    assert (line.route, line.status) == (BOOKINGS, 409)  # type: ignore[attr-defined]


async def test_an_event_whose_stock_was_never_read_goes_through_the_route(
    gateway, user_headers
) -> None:
    event_id, sold_out_type = on_sale(gateway)

    answer = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, sold_out_type), headers=user_headers
    )

    # Reading the stock of any event named would give signed-in callers unlimited reads
    # downstream; the route reads it once the caller has passed the rate limit.
    assert answer.status_code == 409
    assert "X-RateLimit-Remaining" in answer.headers


def signed(gateway, *, secret: str = "", **changes: object) -> dict[str, str]:  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "user",
        "iss": gateway.settings.jwt_issuer,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "ver": 0,
        **changes,
    }
    key = secret or gateway.settings.jwt_secret.get_secret_value()
    return gateway.bearer(jwt.encode(claims, key, algorithm="HS256"))


@pytest.mark.parametrize(
    "token",
    ["none", "garbage", "expired", "wrong_signature", "wrong_issuer", "unknown_role"],
)
async def test_a_bad_or_expired_token_gets_401_for_a_sold_out_type(
    gateway_factory, on_redis, redis, token
) -> None:
    async with gateway_factory(customise=on_redis) as gateway:
        event_id, sold_out_type, _ = await sold_out_event(
            gateway, await gateway.headers_for("user")
        )
        redis.stopped = True
        leeway = gateway.settings.jwt_leeway_seconds
        headers = {
            "none": {},
            "garbage": gateway.bearer("not-a-token"),
            "expired": signed(gateway, exp=int(time.time()) - leeway - 1),
            "wrong_signature": signed(gateway, secret="another-secret-of-sufficient-length-1234"),
            "wrong_issuer": signed(gateway, iss="someone-else"),
            "unknown_role": signed(gateway, role="superuser"),
        }[token]

        answer = await gateway.client.post(
            BOOKINGS, json=a_booking(event_id, sold_out_type), headers=headers
        )

        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_a_bookable_type_still_meets_the_rate_limit(gateway_factory) -> None:
    async with gateway_factory(rate_limit_booking="2/minute") as gateway:
        headers = await gateway.headers_for("user")
        event_id, sold_out_type, bookable_type = await sold_out_event(gateway, headers)

        sold_out = [
            await gateway.client.post(
                BOOKINGS, json=a_booking(event_id, sold_out_type), headers=headers
            )
            for _ in range(5)
        ]
        first, second = [
            await gateway.client.post(
                BOOKINGS, json=a_booking(event_id, bookable_type), headers=headers
            )
            for _ in range(2)
        ]

        assert [answer.status_code for answer in sold_out] == [409] * 5
        assert first.status_code == 202
        assert first.headers["X-RateLimit-Remaining"] == "0"
        assert second.status_code == 429


async def test_a_logged_out_token_is_refused_a_booking_but_told_a_type_is_sold_out(
    gateway,
) -> None:
    await gateway.register("leaving@example.com")
    headers = gateway.bearer(await gateway.token("leaving@example.com"))
    event_id, sold_out_type, bookable_type = await sold_out_event(gateway, headers)

    assert (await gateway.client.post("/api/v1/auth/logout", headers=headers)).status_code == 204

    bookable = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, bookable_type), headers=headers
    )
    assert bookable.status_code == 401
    assert bookable.json()["error_type"] == "unauthorized"
    # The stock is public (GET /events/{id}/availability); refusing changes nothing.
    sold_out = await gateway.client.post(
        BOOKINGS, json=a_booking(event_id, sold_out_type), headers=headers
    )
    assert sold_out.status_code == 409


async def test_a_sold_out_type_is_answered_whatever_else_the_body_says(
    gateway, user_headers
) -> None:
    event_id, sold_out_type, _ = await sold_out_event(gateway, user_headers)
    invalid = {**a_booking(event_id, sold_out_type), "quantity": 11, "customer_email": "nope"}

    answer = await gateway.client.post(BOOKINGS, json=invalid, headers=user_headers)

    # No body could book a sold-out type; the rest of it is not worth validating.
    assert answer.status_code == 409
    assert answer.json()["error_type"] == "sold_out"


async def test_a_body_naming_no_ticket_type_is_left_to_the_route(gateway, user_headers) -> None:
    event_id, sold_out_type, _ = await sold_out_event(gateway, user_headers)
    json_type = {**user_headers, "Content-Type": "application/json"}
    not_json = {**user_headers, "Content-Type": "text/plain"}
    not_an_id = {**a_booking(event_id, sold_out_type), "event_id": 7}

    answers = [
        await gateway.client.post(BOOKINGS, content=b"{", headers=json_type),
        await gateway.client.post(BOOKINGS, content=b"{}", headers=not_json),
        await gateway.client.post(BOOKINGS, json=[event_id, sold_out_type], headers=user_headers),
        await gateway.client.post(BOOKINGS, json=not_an_id, headers=user_headers),
    ]
    too_deep = await gateway.client.post(BOOKINGS, content=b"[" * 50_000, headers=json_type)

    assert [answer.status_code for answer in answers] == [422] * 4
    assert too_deep.status_code == 400


async def test_a_bookable_type_reaches_the_route_with_its_body(gateway, user_headers) -> None:
    event_id, _, bookable_type = await sold_out_event(gateway, user_headers)
    too_many = {**a_booking(event_id, bookable_type), "quantity": 11}

    answer = await gateway.client.post(BOOKINGS, json=too_many, headers=user_headers)

    assert answer.status_code == 422
    assert "body.quantity" in {problem["field"] for problem in answer.json()["errors"]}


async def test_tickets_back_in_stock_make_the_type_bookable_again(gateway_factory) -> None:
    async with gateway_factory(availability_cache_ttl_seconds=0.05) as gateway:
        headers = await gateway.headers_for("user")
        event_id, sold_out_type, _ = await sold_out_event(gateway, headers)
        body = a_booking(event_id, sold_out_type)
        assert (await gateway.client.post(BOOKINGS, json=body, headers=headers)).status_code == 409

        gateway.backend.availability[event_id][sold_out_type] = 2  # a hold expired

        async with asyncio.timeout(5):
            answer = await gateway.client.post(BOOKINGS, json=body, headers=headers)
            while answer.status_code == 409:
                await asyncio.sleep(0.01)  # a sold-out answer may never suspend: let time pass
                answer = await gateway.client.post(BOOKINGS, json=body, headers=headers)
        assert answer.status_code == 202
