"""The provider API as the platform's payment client sees it, on a real process and database."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from .support import TIMEOUT_DELAY_SECONDS, RunningSimulator

pytestmark = pytest.mark.integration


def charge(card: str = "tok_visa", amount: int = 4200, **fields: Any) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": "eur",
        "payment_method": card,
        "capture_method": "manual",
        "metadata": {"booking_id": str(uuid.uuid4())},
        "description": "2 x Stalls",
        **fields,
    }


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"booking-{uuid.uuid4()}"}


async def create(
    provider: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await provider.post("/v1/payment_intents", json=body, headers=headers or key())


async def captured(provider: httpx.AsyncClient, amount: int = 4200) -> dict[str, Any]:
    intent = (await create(provider, charge(amount=amount))).json()
    response = await provider.post(f"/v1/payment_intents/{intent['id']}/capture")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def test_tok_visa_is_authorised_then_captured(provider: httpx.AsyncClient) -> None:
    body = charge()
    created = await create(provider, body)

    assert created.status_code == 200
    intent = created.json()
    assert intent["id"].startswith("pi_")
    assert intent["object"] == "payment_intent"
    assert intent["status"] == "requires_capture"
    assert (intent["amount"], intent["amount_received"], intent["currency"]) == (4200, 0, "eur")
    assert intent["metadata"] == body["metadata"]
    assert intent["last_payment_error"] is None

    capture = await provider.post(
        f"/v1/payment_intents/{intent['id']}/capture", json={"amount_to_capture": 4200}
    )
    assert capture.status_code == 200
    assert capture.json()["status"] == "succeeded"
    assert capture.json()["amount_received"] == 4200
    again = await provider.post(f"/v1/payment_intents/{intent['id']}/capture")
    assert again.status_code == 200
    assert again.json() == capture.json()
    assert (await provider.get(f"/v1/payment_intents/{intent['id']}")).json() == capture.json()


async def test_automatic_capture_charges_at_once(provider: httpx.AsyncClient) -> None:
    intent = (await create(provider, charge("tok_mastercard", capture_method="automatic"))).json()

    assert intent["status"] == "succeeded"
    assert intent["amount_received"] == 4200


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [("tok_chargeDeclined", "generic_decline"), ("tok_insufficientFunds", "insufficient_funds")],
)
async def test_a_declined_card_answers_402_and_the_intent_needs_another_method(
    provider: httpx.AsyncClient, token: str, decline_code: str
) -> None:
    headers = key()
    declined = await create(provider, charge(token), headers)

    assert declined.status_code == 402
    error = declined.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        decline_code,
    )
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["decline_code"] == decline_code
    assert (await provider.get(f"/v1/payment_intents/{intent['id']}")).json() == intent
    capture = await provider.post(f"/v1/payment_intents/{intent['id']}/capture")
    assert capture.status_code == 409


async def test_a_replayed_create_answers_the_same_intent_and_charges_once(
    provider: httpx.AsyncClient,
) -> None:
    headers, body = key(), charge()
    first = await create(provider, body, headers)
    replay = await create(provider, dict(reversed(list(body.items()))), headers)

    assert replay.status_code == 200
    assert replay.json() == first.json()
    declined_headers, declined_body = key(), charge("tok_chargeDeclined")
    first_decline = await create(provider, declined_body, declined_headers)
    replayed_decline = await create(provider, declined_body, declined_headers)
    assert replayed_decline.status_code == first_decline.status_code == 402
    assert replayed_decline.json() == first_decline.json()
    ledger = await provider.get(
        "/_sim/ledger", params={"metadata.booking_id": body["metadata"]["booking_id"]}
    )
    assert [intent["id"] for intent in ledger.json()["payment_intents"]] == [first.json()["id"]]


async def test_concurrent_creates_with_one_key_make_one_intent(
    provider: httpx.AsyncClient,
) -> None:
    headers, body = key(), charge()

    answers = await asyncio.gather(*(create(provider, body, headers) for _ in range(20)))

    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["id"] for answer in answers}) == 1
    found = await provider.get(
        "/_sim/ledger", params={"metadata.booking_id": body["metadata"]["booking_id"]}
    )
    assert len(found.json()["payment_intents"]) == 1


async def test_reusing_a_key_with_another_body_is_a_409(provider: httpx.AsyncClient) -> None:
    headers, body = key(), charge()
    await create(provider, body, headers)

    reused = await create(provider, {**body, "amount": 9900}, headers)

    assert reused.status_code == 409
    assert reused.json()["error"]["type"] == "idempotency_error"


async def test_refunds_in_parts_and_never_more_than_was_captured(
    provider: httpx.AsyncClient,
) -> None:
    intent = await captured(provider)
    refund_key = key()
    body = {"payment_intent": intent["id"], "amount": 1200, "reason": "requested_by_customer"}

    part = await provider.post("/v1/refunds", json=body, headers=refund_key)
    replay = await provider.post("/v1/refunds", json=body, headers=refund_key)
    too_much = await provider.post(
        "/v1/refunds", json={"payment_intent": intent["id"], "amount": 3001}, headers=key()
    )
    rest = await provider.post("/v1/refunds", json={"payment_intent": intent["id"]}, headers=key())
    nothing_left = await provider.post(
        "/v1/refunds", json={"payment_intent": intent["id"]}, headers=key()
    )

    assert part.status_code == 200
    assert part.json()["id"].startswith("re_")
    assert (part.json()["amount"], part.json()["status"]) == (1200, "succeeded")
    assert replay.json() == part.json()
    assert too_much.status_code == 400
    assert too_much.json()["error"]["type"] == "invalid_request_error"
    assert rest.json()["amount"] == 3000
    assert nothing_left.status_code == 400
    after = (await provider.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["amount_refunded"] == 4200
    assert [refund["amount"] for refund in after["refunds"]] == [1200, 3000]


async def test_concurrent_refunds_never_exceed_the_captured_amount(
    provider: httpx.AsyncClient,
) -> None:
    intent = await captured(provider, amount=1000)
    body = {"payment_intent": intent["id"], "amount": 300}

    answers = await asyncio.gather(
        *(provider.post("/v1/refunds", json=body, headers=key()) for _ in range(6))
    )

    assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 400, 400, 400]
    after = (await provider.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["amount_refunded"] == 900


async def test_an_authorisation_is_cancelled_not_refunded(provider: httpx.AsyncClient) -> None:
    intent = (await create(provider, charge())).json()

    refund = await provider.post("/v1/refunds", json={"payment_intent": intent["id"]})
    cancel = await provider.post(f"/v1/payment_intents/{intent['id']}/cancel")
    cancel_again = await provider.post(f"/v1/payment_intents/{intent['id']}/cancel")
    capture = await provider.post(f"/v1/payment_intents/{intent['id']}/capture")

    assert refund.status_code == 400
    assert cancel.status_code == cancel_again.status_code == 200
    assert cancel.json()["status"] == "canceled"
    assert capture.status_code == 409
    assert capture.json()["error"]["code"] == "payment_intent_unexpected_state"
    captured_intent = await captured(provider)
    late_cancel = await provider.post(f"/v1/payment_intents/{captured_intent['id']}/cancel")
    assert late_cancel.status_code == 409


async def test_the_lookup_by_idempotency_key_finds_the_intent_or_nothing(
    provider: httpx.AsyncClient,
) -> None:
    headers = key()
    intent = (await create(provider, charge(), headers)).json()

    found = await provider.get(
        "/v1/payment_intents", params={"idempotency_key": headers["Idempotency-Key"]}
    )
    unknown = await provider.get("/v1/payment_intents", params={"idempotency_key": "never-used"})

    assert found.json()["data"] == [intent]
    assert intent["idempotency_key"] == headers["Idempotency-Key"]
    assert unknown.json()["data"] == []


async def test_a_timed_out_charge_was_authorised_and_the_lookup_finds_it(
    running_simulator: RunningSimulator, provider: httpx.AsyncClient
) -> None:
    headers, body = key(), charge("tok_timeout")
    async with running_simulator.client(timeout=0.5) as impatient:
        with pytest.raises(httpx.TimeoutException):
            await create(impatient, body, headers)

    found = await provider.get(
        "/v1/payment_intents", params={"idempotency_key": headers["Idempotency-Key"]}
    )
    (intent,) = found.json()["data"]
    assert intent["status"] == "requires_capture"
    started = time.monotonic()
    retried = await create(provider, body, headers)
    assert retried.json()["id"] == intent["id"]
    assert time.monotonic() - started < TIMEOUT_DELAY_SECONDS, "a replay answers at once"


async def test_the_timeout_token_answers_after_the_configured_delay(
    provider: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    answer = await create(provider, charge("tok_timeout"))

    assert answer.status_code == 200
    assert time.monotonic() - started >= TIMEOUT_DELAY_SECONDS


async def test_a_provider_error_answers_500_and_stores_nothing(
    provider: httpx.AsyncClient,
) -> None:
    headers = key()
    failed = await create(provider, charge("tok_providerError"), headers)

    assert failed.status_code == 500
    assert failed.json()["error"]["type"] == "api_error"
    lookup = await provider.get(
        "/v1/payment_intents", params={"idempotency_key": headers["Idempotency-Key"]}
    )
    assert lookup.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (charge(amount=0), "amount"),
        (charge(amount="4200"), "amount"),
        (charge(amount=42.5), "amount"),
        (charge(currency="EUR"), "currency"),
        (charge(currency="xyz"), "currency"),
        (charge("tok_unknown"), "payment_method"),
        ({**charge(), "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_charges_are_400_and_name_the_parameter(
    provider: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    answer = await create(provider, body)

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.json()["error"]["param"] == param


async def test_a_charge_needs_an_idempotency_key_and_a_json_body(
    provider: httpx.AsyncClient,
) -> None:
    without_key = await provider.post("/v1/payment_intents", json=charge())
    long_key = await create(provider, charge(), {"Idempotency-Key": "k" * 256})
    not_json = await provider.post(
        "/v1/payment_intents",
        content=b"amount=4200",
        headers={**key(), "Content-Type": "application/json"},
    )

    assert without_key.status_code == long_key.status_code == not_json.status_code == 400
    assert without_key.json()["error"]["param"] == "Idempotency-Key"


async def test_unknown_intents_are_404(provider: httpx.AsyncClient) -> None:
    answer = await provider.get("/v1/payment_intents/pi_missing")

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "resource_missing"


async def test_calls_without_the_secret_key_are_401(running_simulator: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=running_simulator.url) as anonymous:
        missing = await anonymous.post("/v1/payment_intents", json=charge(), headers=key())
        faults = await anonymous.put("/_sim/faults", json={"down": True})
        ready = await anonymous.get("/health/ready")
    async with running_simulator.client(secret_key="sk_wrong_" + "x" * 24) as impostor:
        wrong = await impostor.get("/_sim/ledger")

    for answer in (missing, faults, wrong):
        assert answer.status_code == 401
        assert answer.json()["error"]["type"] == "authentication_error"
    assert ready.status_code == 200


async def test_a_provider_that_is_down_answers_503_until_the_faults_are_cleared(
    provider: httpx.AsyncClient,
) -> None:
    headers = key()
    faults = await provider.put("/_sim/faults", json={"down": True})

    down = await create(provider, charge(), headers)
    control = await provider.get("/_sim/faults")
    await provider.delete("/_sim/faults")
    lookup = await provider.get(
        "/v1/payment_intents", params={"idempotency_key": headers["Idempotency-Key"]}
    )

    assert faults.json() == {"latency_ms": 0, "error_rate": 0.0, "down": True}
    assert down.status_code == 503
    assert down.json()["error"]["type"] == "api_error"
    assert control.status_code == 200, "the control API stays up"
    assert lookup.status_code == 200
    assert lookup.json()["data"] == [], "nothing was charged while down"


async def test_an_error_rate_fails_that_share_of_calls_before_any_work(
    provider: httpx.AsyncClient,
) -> None:
    await provider.put("/_sim/faults", json={"error_rate": 1.0})
    headers = key()
    failed = await create(provider, charge(), headers)
    await provider.put("/_sim/faults", json={"error_rate": 0.5})
    statuses = [(await provider.get("/v1/payment_intents")).status_code for _ in range(60)]
    await provider.delete("/_sim/faults")

    assert failed.status_code == 500
    lookup = await provider.get(
        "/v1/payment_intents", params={"idempotency_key": headers["Idempotency-Key"]}
    )
    assert lookup.json()["data"] == []
    assert set(statuses) == {200, 500}


async def test_latency_delays_the_answer_after_the_work_is_done(
    running_simulator: RunningSimulator, provider: httpx.AsyncClient
) -> None:
    await provider.put("/_sim/faults", json={"latency_ms": 1500})
    headers = key()
    started = time.monotonic()
    slow = await create(provider, charge(), headers)
    elapsed = time.monotonic() - started
    async with running_simulator.client(timeout=0.3) as impatient:
        with pytest.raises(httpx.TimeoutException):
            await create(impatient, charge(), headers)
    await provider.delete("/_sim/faults")

    assert slow.status_code == 200
    assert elapsed >= 1.5
    lookup = await provider.get(
        "/v1/payment_intents", params={"idempotency_key": headers["Idempotency-Key"]}
    )
    assert [intent["id"] for intent in lookup.json()["data"]] == [slow.json()["id"]]


async def test_invalid_faults_are_400(provider: httpx.AsyncClient) -> None:
    answer = await provider.put("/_sim/faults", json={"error_rate": 1.5})

    assert answer.status_code == 400
    assert (await provider.get("/_sim/faults")).json()["error_rate"] == 0.0


async def test_the_ledger_shows_a_bookings_intents_with_captures_and_refunds(
    provider: httpx.AsyncClient,
) -> None:
    booking_id = str(uuid.uuid4())
    metadata = {"booking_id": booking_id}
    await create(provider, charge("tok_chargeDeclined", metadata=metadata))
    intent = (await create(provider, charge(metadata=metadata))).json()
    await provider.post(f"/v1/payment_intents/{intent['id']}/capture")
    await provider.post("/v1/refunds", json={"payment_intent": intent["id"], "amount": 200})
    await create(provider, charge())

    ledger = await provider.get("/_sim/ledger", params={"metadata.booking_id": booking_id})

    intents = ledger.json()["payment_intents"]
    assert [entry["status"] for entry in intents] == ["requires_payment_method", "succeeded"]
    assert intents[1]["amount_received"] == 4200
    assert intents[1]["amount_refunded"] == 200
    assert [refund["amount"] for refund in intents[1]["refunds"]] == [200]
    everything = (await provider.get("/_sim/ledger")).json()["payment_intents"]
    assert {entry["id"] for entry in intents} < {entry["id"] for entry in everything}


async def test_a_restarted_simulator_keeps_its_ledger(
    running_simulator: RunningSimulator, provider: httpx.AsyncClient
) -> None:
    headers = key()
    intent = (await create(provider, charge(), headers)).json()
    await provider.put("/_sim/faults", json={"down": True})

    await running_simulator.restart()

    assert (await provider.get("/_sim/faults")).json()["down"] is False
    assert (await provider.get(f"/v1/payment_intents/{intent['id']}")).json() == intent
    replay = await create(provider, charge(metadata=intent["metadata"]), headers)
    assert replay.json()["id"] == intent["id"]


async def test_every_intent_can_be_paged_through_newest_first(
    provider: httpx.AsyncClient,
) -> None:
    made = [(await create(provider, charge())).json()["id"] for _ in range(5)]

    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"starting_after": after} if after else {})}
        page = (await provider.get("/v1/payment_intents", params=params)).json()
        seen.extend(intent["id"] for intent in page["data"])
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]

    assert [intent for intent in seen if intent in made] == list(reversed(made))
    assert len(seen) == len(set(seen))


async def test_paging_after_an_unknown_intent_is_refused(provider: httpx.AsyncClient) -> None:
    response = await provider.get(
        "/v1/payment_intents", params={"starting_after": "pi_nothing_like_it"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["param"] == "starting_after"
