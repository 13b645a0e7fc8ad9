"""The payment provider's HTTP adapter against a fake provider: a real HTTP server on
loopback whose answers each test scripts."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from uuid import uuid4

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from multidict import CIMultiDictProxy, MultiDictProxy

from booking_command.adapters.payment_provider import HttpPaymentProvider
from booking_command.application.ports import (
    PaymentDeclined,
    PaymentOutcomeUnknown,
    PaymentUnavailable,
)
from service_kit.circuit_breakers import STATE_OPEN, create_breaker

KEY = "sk_test_Fz8Lq2Vw7Rb4Nc9Xt1Hy6Kd3Gm5Jp0Ta"
BOOKING = uuid4()
ANSWER_WITHIN_SECONDS = 0.2


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: CIMultiDictProxy[str]
    query: MultiDictProxy[str]
    content: bytes


Handler = Callable[[Seen], Awaitable[web.StreamResponse]]


class FakeProvider:
    """Records every request that reaches it and answers with the test's handler."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.handler: Handler = answer(200, {})
        self.never = asyncio.Event()  # what a request that gets no answer waits for

    async def handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(
            request.method, request.path, request.headers, request.query, await request.read()
        )
        self.seen.append(seen)
        return await self.handler(seen)

    async def no_answer(self, _: Seen) -> web.StreamResponse:
        await self.never.wait()
        return web.Response(status=200)


def answer(status: int, body: object | None = None) -> Handler:
    async def handler(_: Seen) -> web.StreamResponse:
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    return handler


def in_turn(*handlers: Handler) -> Handler:
    remaining = list(handlers)

    async def handler(seen: Seen) -> web.StreamResponse:
        return await remaining.pop(0)(seen)

    return handler


@pytest_asyncio.fixture(loop_scope="session")
async def fake() -> AsyncIterator[tuple[FakeProvider, str]]:
    provider = FakeProvider()
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", provider.handle)
    runner = web.AppRunner(app, shutdown_timeout=0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield provider, f"http://127.0.0.1:{port}/"
    finally:
        provider.never.set()
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def adapters() -> AsyncIterator[Callable[..., HttpPaymentProvider]]:
    made: list[HttpPaymentProvider] = []

    def make(base_url: str, *, fail_max: int = 5, attempts: int = 3) -> HttpPaymentProvider:
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_read=ANSWER_WITHIN_SECONDS)
        )
        breaker = create_breaker(
            f"payment-test-{uuid4()}", fail_max=fail_max, reset_timeout_seconds=30
        )
        adapter = HttpPaymentProvider(
            base_url,
            KEY,
            session,
            breaker,
            retry_attempts=attempts,
            retry_initial_seconds=0.001,
            retry_max_seconds=0.002,
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


def intent(status: str = "requires_capture", received: int = 0) -> dict[str, object]:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 4200,
        "amount_received": received,
        "amount_refunded": 0,
        "currency": "eur",
        "status": status,
        "idempotency_key": f"booking-{BOOKING}-charge",
    }


async def create(adapter: HttpPaymentProvider) -> object:
    return await adapter.create_intent(
        idempotency_key=f"booking-{BOOKING}-charge",
        amount=4200,
        currency="eur",
        payment_token="tok_visa",
        booking_id=BOOKING,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_charge_is_a_manual_capture_intent_for_the_amount_under_the_bookings_key(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake
    provider.handler = answer(200, intent())
    authorised = await create(adapters(url))
    [request] = provider.seen
    assert (request.method, request.path) == ("POST", "/v1/payment_intents")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["idempotency-key"] == f"booking-{BOOKING}-charge"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "amount": 4200,
        "currency": "eur",
        "payment_method": "tok_visa",
        "capture_method": "manual",
        "metadata": {"booking_id": str(BOOKING)},
        "description": f"Booking {BOOKING}",
    }
    assert getattr(authorised, "status", None) == "requires_capture"


async def test_a_decline_is_reported_with_its_decline_code_and_not_retried(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake
    provider.handler = answer(
        402,
        {
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "payment_intent": intent("requires_payment_method"),
            }
        },
    )
    adapter = adapters(url)
    with pytest.raises(PaymentDeclined) as error:
        await create(adapter)
    assert error.value.decline_code == "insufficient_funds"
    assert len(provider.seen) == 1
    assert adapter.breaker.fail_counter == 0, "a decline says nothing about the provider's health"


async def test_a_server_error_is_retried_with_the_same_idempotency_key(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake
    provider.handler = in_turn(answer(500), answer(503), answer(200, intent()))
    await create(adapters(url))
    assert len(provider.seen) == 3
    assert len({request.headers["idempotency-key"] for request in provider.seen}) == 1
    assert len({request.content for request in provider.seen}) == 1


async def test_lasting_server_errors_leave_the_payment_to_later_and_open_the_breaker(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake
    provider.handler = answer(500)
    adapter = adapters(url, fail_max=3, attempts=3)
    with pytest.raises(PaymentUnavailable):
        await create(adapter)
    assert adapter.breaker.current_state == STATE_OPEN
    with pytest.raises(PaymentUnavailable) as refused:
        await create(adapter)
    assert len(provider.seen) == 3, "an open breaker fails at once, without calling the provider"
    assert refused.value.retry_after_seconds > 0


async def test_an_unreachable_provider_is_retried_then_unavailable(
    adapters: Callable[..., HttpPaymentProvider],
) -> None:
    adapter = adapters(f"http://127.0.0.1:{closed_port()}/", fail_max=10)
    with pytest.raises(PaymentUnavailable, match="unreachable"):
        await create(adapter)
    assert adapter.breaker.fail_counter == 3, "three attempts, each refused"


async def test_a_charge_that_times_out_is_an_unknown_outcome_and_is_not_sent_again(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake
    provider.handler = provider.no_answer
    with pytest.raises(PaymentOutcomeUnknown):
        await create(adapters(url))
    assert len(provider.seen) == 1


async def test_a_lookup_by_idempotency_key_finds_the_intent_or_nothing(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake
    provider.handler = in_turn(
        answer(200, {"data": [intent("succeeded", received=4200)]}), answer(200, {"data": []})
    )
    adapter = adapters(url)
    first = await adapter.find_intent(f"booking-{BOOKING}-charge")
    assert first is not None
    assert (first.status, first.amount_received) == ("succeeded", 4200)
    assert await adapter.find_intent("booking-other-charge") is None
    assert (provider.seen[0].method, provider.seen[0].path) == ("GET", "/v1/payment_intents")
    assert provider.seen[0].query["idempotency_key"] == f"booking-{BOOKING}-charge"


async def test_a_lookup_that_times_out_is_asked_again(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake
    provider.handler = in_turn(provider.no_answer, answer(200, {"data": []}))
    assert await adapters(url).find_intent("booking-x-charge") is None
    assert len(provider.seen) == 2


async def test_capture_and_refund_send_the_amount_under_their_own_keys(
    fake: tuple[FakeProvider, str], adapters: Callable[..., HttpPaymentProvider]
) -> None:
    provider, url = fake

    async def handler(seen: Seen) -> web.StreamResponse:
        if seen.path == "/v1/refunds":
            refund = {"id": "re_1", "object": "refund", "payment_intent": "pi_1", "amount": 4200}
            return web.json_response(refund)
        return web.json_response(intent("succeeded", received=4200))

    provider.handler = handler
    adapter = adapters(url)
    captured = await adapter.capture("pi_1", amount=4200, idempotency_key="k-capture")
    refund = await adapter.refund("pi_1", amount=4200, idempotency_key="k-refund")
    assert (captured.status, refund.id, refund.amount) == ("succeeded", "re_1", 4200)
    assert provider.seen[0].path == "/v1/payment_intents/pi_1/capture"
    assert json.loads(provider.seen[0].content) == {"amount_to_capture": 4200}
    assert json.loads(provider.seen[1].content) == {"payment_intent": "pi_1", "amount": 4200}
    assert [r.headers["idempotency-key"] for r in provider.seen] == ["k-capture", "k-refund"]
