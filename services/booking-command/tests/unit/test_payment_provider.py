"""The payment provider's HTTP adapter against a fake transport (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from uuid import uuid4

import httpx
import pytest

from booking_command.adapters.payment_provider import HttpPaymentProvider
from booking_command.application.ports import (
    PaymentDeclined,
    PaymentOutcomeUnknown,
    PaymentUnavailable,
)
from service_kit.circuit_breakers import STATE_OPEN, create_breaker

KEY = "sk_test_Fz8Lq2Vw7Rb4Nc9Xt1Hy6Kd3Gm5Jp0Ta"
BOOKING = uuid4()


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


def provider(
    handler: Callable[[httpx.Request], httpx.Response], *, fail_max: int = 5, attempts: int = 3
) -> tuple[HttpPaymentProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(recording))
    breaker = create_breaker(f"payment-test-{uuid4()}", fail_max=fail_max, reset_timeout_seconds=30)
    adapter = HttpPaymentProvider(
        "http://provider.test/",
        KEY,
        client,
        breaker,
        retry_attempts=attempts,
        retry_initial_seconds=0.001,
        retry_max_seconds=0.002,
    )
    return adapter, seen


async def create(adapter: HttpPaymentProvider) -> object:
    return await adapter.create_intent(
        idempotency_key=f"booking-{BOOKING}-charge",
        amount=4200,
        currency="eur",
        payment_token="tok_visa",
        booking_id=BOOKING,
    )


async def test_a_charge_is_a_manual_capture_intent_for_the_amount_under_the_bookings_key() -> None:
    adapter, seen = provider(lambda request: httpx.Response(200, json=intent()))
    authorised = await create(adapter)
    [request] = seen
    assert (request.method, request.url.path) == ("POST", "/v1/payment_intents")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["idempotency-key"] == f"booking-{BOOKING}-charge"
    assert json.loads(request.content) == {
        "amount": 4200,
        "currency": "eur",
        "payment_method": "tok_visa",
        "capture_method": "manual",
        "metadata": {"booking_id": str(BOOKING)},
        "description": f"Booking {BOOKING}",
    }
    assert getattr(authorised, "status", None) == "requires_capture"


async def test_a_decline_is_reported_with_its_decline_code_and_not_retried() -> None:
    declined = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "payment_intent": intent("requires_payment_method"),
        }
    }
    adapter, seen = provider(lambda request: httpx.Response(402, json=declined))
    with pytest.raises(PaymentDeclined) as error:
        await create(adapter)
    assert error.value.decline_code == "insufficient_funds"
    assert len(seen) == 1
    assert adapter.breaker.fail_counter == 0, "a decline says nothing about the provider's health"


async def test_a_server_error_is_retried_with_the_same_idempotency_key() -> None:
    answers = iter([httpx.Response(500), httpx.Response(503), httpx.Response(200, json=intent())])
    adapter, seen = provider(lambda request: next(answers))
    await create(adapter)
    assert len(seen) == 3
    assert len({request.headers["idempotency-key"] for request in seen}) == 1


async def test_lasting_server_errors_leave_the_payment_to_later_and_open_the_breaker() -> None:
    adapter, seen = provider(lambda request: httpx.Response(500), fail_max=3, attempts=3)
    with pytest.raises(PaymentUnavailable):
        await create(adapter)
    assert adapter.breaker.current_state == STATE_OPEN
    with pytest.raises(PaymentUnavailable) as refused:
        await create(adapter)
    assert len(seen) == 3, "an open breaker fails at once, without calling the provider"
    assert refused.value.retry_after_seconds > 0


async def test_an_unreachable_provider_is_retried_then_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    adapter, seen = provider(refuse)
    with pytest.raises(PaymentUnavailable):
        await create(adapter)
    assert len(seen) == 3


async def test_a_charge_that_times_out_is_an_unknown_outcome_and_is_not_sent_again() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    adapter, seen = provider(slow)
    with pytest.raises(PaymentOutcomeUnknown):
        await create(adapter)
    assert len(seen) == 1


async def test_a_lookup_by_idempotency_key_finds_the_intent_or_nothing() -> None:
    found = {"data": [intent("succeeded", received=4200)]}
    answers = iter([httpx.Response(200, json=found), httpx.Response(200, json={"data": []})])
    adapter, seen = provider(lambda request: next(answers))
    first = await adapter.find_intent(f"booking-{BOOKING}-charge")
    assert first is not None
    assert (first.status, first.amount_received) == ("succeeded", 4200)
    assert await adapter.find_intent("booking-other-charge") is None
    assert seen[0].url.params["idempotency_key"] == f"booking-{BOOKING}-charge"


async def test_a_lookup_that_times_out_is_asked_again() -> None:
    answers: list[Exception | httpx.Response] = [
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"data": []}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    adapter, seen = provider(handler)
    assert await adapter.find_intent("booking-x-charge") is None
    assert len(seen) == 2


async def test_capture_and_refund_send_the_amount_under_their_own_keys() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/refunds":
            return httpx.Response(
                200,
                json={"id": "re_1", "object": "refund", "payment_intent": "pi_1", "amount": 4200},
            )
        return httpx.Response(200, json=intent("succeeded", received=4200))

    adapter, seen = provider(handler)
    captured = await adapter.capture("pi_1", amount=4200, idempotency_key="k-capture")
    refund = await adapter.refund("pi_1", amount=4200, idempotency_key="k-refund")
    assert (captured.status, refund.id, refund.amount) == ("succeeded", "re_1", 4200)
    assert seen[0].url.path == "/v1/payment_intents/pi_1/capture"
    assert json.loads(seen[0].content) == {"amount_to_capture": 4200}
    assert json.loads(seen[1].content) == {"payment_intent": "pi_1", "amount": 4200}
    assert [r.headers["idempotency-key"] for r in seen] == ["k-capture", "k-refund"]
