"""The payment provider's HTTP API (PaymentIntents, shaped like Stripe's; JSON bodies).

- Every call carries the secret key and, where it changes something, an idempotency key,
  so a repeated call is answered like the first and never charges twice.
- Retries (tenacity, exponential backoff with jitter) for a connection never made and
  for 5xx answers; a timeout is retried only where repeating is harmless (reads,
  capture, cancel, refund). A create that times out is an unknown outcome: the caller
  looks the intent up by its idempotency key before deciding anything.
- A circuit breaker (the kit's, state shared through Redis) counts transport failures
  and 5xx answers; while open, calls fail at once without reaching the provider.
- aiohttp, not httpx: httpx's pool costs milliseconds of CPU per call at the worker's
  concurrency (it scans every pooled connection and queued request on each state change).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from booking_command.adapters.metrics import PAYMENT_CALL_SECONDS, PAYMENT_CALLS
from booking_command.application.ports import (
    LedgerEntry,
    PaymentDeclined,
    PaymentIntent,
    PaymentOutcomeUnknown,
    PaymentRequestRefused,
    PaymentUnavailable,
    Refund,
)
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError, seconds_until_trial
from service_kit.metrics import RETRIES

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class _Answer:
    """The provider's answer, read whole so its connection goes back to the pool at once."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class _ServerFailure(Exception):
    """A 5xx answer, raised inside the breaker so it counts as a failure."""

    def __init__(self, response: _Answer) -> None:
        super().__init__(f"payment provider answered {response.status_code}")
        self.response = response


def _never_sent(error: BaseException) -> bool:
    """No connection was made (refused, or none free or made in time): nothing reached
    the provider."""
    return isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def _intent(body: Any) -> PaymentIntent:
    return PaymentIntent(
        id=str(body["id"]),
        status=str(body["status"]),
        amount=int(body["amount"]),
        amount_received=int(body.get("amount_received") or 0),
        currency=str(body["currency"]),
    )


def _ledger_entry(body: Any) -> LedgerEntry:
    booking = (body.get("metadata") or {}).get("booking_id")
    try:
        booking_id = UUID(str(booking)) if booking else None
    except ValueError:
        booking_id = None  # not a charge of the platform's bookings
    return LedgerEntry(
        intent_id=str(body["id"]),
        booking_id=booking_id,
        status=str(body["status"]),
        amount=int(body["amount"]),
        amount_received=int(body.get("amount_received") or 0),
        amount_refunded=int(body.get("amount_refunded") or 0),
        currency=str(body["currency"]),
    )


def _error_of(response: _Answer) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


class HttpPaymentProvider:
    def __init__(
        self,
        base_url: str,
        secret_key: str,
        session: aiohttp.ClientSession,
        breaker: CircuitBreaker,
        *,
        retry_attempts: int = 3,
        retry_initial_seconds: float = 0.1,
        retry_max_seconds: float = 2.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.breaker = breaker
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self._session = session
        self._attempts = retry_attempts
        self._initial_backoff = retry_initial_seconds
        self._max_backoff = retry_max_seconds

    async def aclose(self) -> None:
        await self._session.close()
        await self.breaker.aclose()

    async def create_intent(
        self,
        *,
        idempotency_key: str,
        amount: int,
        currency: str,
        payment_token: str,
        booking_id: UUID,
    ) -> PaymentIntent:
        response = await self._call(
            "create_intent",
            "POST",
            "/v1/payment_intents",
            json={
                "amount": amount,
                "currency": currency,
                "payment_method": payment_token,
                "capture_method": "manual",
                "metadata": {"booking_id": str(booking_id)},
                "description": f"Booking {booking_id}",
            },
            idempotency_key=idempotency_key,
            repeatable=False,
        )
        if response.status_code == 402:
            error = _error_of(response)
            declined_intent = error.get("payment_intent")
            raise PaymentDeclined(
                str(error.get("decline_code") or error.get("code") or "card_declined"),
                _intent(declined_intent) if isinstance(declined_intent, dict) else None,
            )
        return _intent(self._expect_ok(response, "create_intent"))

    async def capture(self, intent_id: str, *, amount: int, idempotency_key: str) -> PaymentIntent:
        response = await self._call(
            "capture",
            "POST",
            f"/v1/payment_intents/{intent_id}/capture",
            json={"amount_to_capture": amount},
            idempotency_key=idempotency_key,
        )
        return _intent(self._expect_ok(response, "capture"))

    async def find_intent(self, idempotency_key: str) -> PaymentIntent | None:
        response = await self._call(
            "find_intent",
            "GET",
            "/v1/payment_intents",
            params={"idempotency_key": idempotency_key},
        )
        found = self._expect_ok(response, "find_intent").get("data") or []
        return _intent(found[0]) if found else None

    async def ledger(self, *, page_size: int = 100) -> list[LedgerEntry]:
        """Every payment intent, paged through the provider's list (newest first)."""
        entries: list[LedgerEntry] = []
        after: str | None = None
        while True:
            params = {"limit": str(page_size), **({"starting_after": after} if after else {})}
            response = await self._call("list_intents", "GET", "/v1/payment_intents", params=params)
            page = self._expect_ok(response, "list_intents")
            data = page.get("data") or []
            entries.extend(_ledger_entry(intent) for intent in data)
            if not page.get("has_more") or not data:
                return entries
            after = str(data[-1]["id"])

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent:
        response = await self._call(
            "cancel",
            "POST",
            f"/v1/payment_intents/{intent_id}/cancel",
            json={},
            idempotency_key=idempotency_key,
        )
        return _intent(self._expect_ok(response, "cancel"))

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> Refund:
        response = await self._call(
            "refund",
            "POST",
            "/v1/refunds",
            json={"payment_intent": intent_id, "amount": amount},
            idempotency_key=idempotency_key,
        )
        body = self._expect_ok(response, "refund")
        return Refund(id=str(body["id"]), amount=int(body["amount"]))

    def _expect_ok(self, response: _Answer, operation: str) -> dict[str, Any]:
        if response.status_code >= 400:
            error = _error_of(response)
            raise PaymentRequestRefused(
                f"{operation}: payment provider answered {response.status_code} "
                f"{error.get('type', '')}: {error.get('message', '')}".strip()
            )
        body = response.json()
        if not isinstance(body, dict):
            raise PaymentRequestRefused(f"{operation}: unexpected answer from the provider")
        return body

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        repeatable: bool = True,
    ) -> _Answer:
        headers = self._headers.copy()
        if idempotency_key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        content: bytes | None = None
        if json is not None:
            # Encoded once for every attempt.
            content = _json_bytes(json)
            headers["Content-Type"] = "application/json"

        def retryable(error: BaseException) -> bool:
            if _never_sent(error):
                return True
            if isinstance(error, TimeoutError):
                return repeatable
            return isinstance(error, aiohttp.ClientError | _ServerFailure)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=self._initial_backoff,
                jitter=self._initial_backoff,
                max=self._max_backoff,
            ),
            retry=retry_if_exception(retryable),
            before_sleep=lambda _: RETRIES.labels(operation=f"payment:{operation}").inc(),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(
                        operation, method, path, headers=headers, content=content, params=params
                    )
        except CircuitBreakerError:
            PAYMENT_CALLS.labels(operation=operation, outcome="breaker_open").inc()
            raise PaymentUnavailable(
                "payment provider circuit open",
                retry_after_seconds=seconds_until_trial(self.breaker),
            ) from None
        except TimeoutError as error:
            if not repeatable and not _never_sent(error):
                raise PaymentOutcomeUnknown(f"{operation} timed out: outcome unknown") from None
            raise PaymentUnavailable(f"{operation} timed out") from None
        except aiohttp.ClientError as error:
            raise PaymentUnavailable(f"{operation}: provider unreachable ({error!r})") from None
        except _ServerFailure as failure:
            raise PaymentUnavailable(
                f"{operation}: provider failed ({failure.response.status_code})"
            ) from None
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _send_once(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        content: bytes | None,
        params: dict[str, str] | None,
    ) -> _Answer:
        started = time.perf_counter()
        outcome: str | None = None  # None: never sent (breaker open)
        try:
            with self.breaker.calling():
                try:
                    async with self._session.request(
                        method, self.base_url + path, headers=headers, data=content, params=params
                    ) as answer:
                        response = _Answer(answer.status, await answer.read())
                except TimeoutError:
                    outcome = "timeout"
                    raise
                except aiohttp.ClientError:
                    outcome = "unreachable"
                    raise
                outcome = _outcome_of(response.status_code)
                if response.status_code >= 500:
                    raise _ServerFailure(response)
                return response
        finally:
            if outcome is not None:
                PAYMENT_CALLS.labels(operation=operation, outcome=outcome).inc()
                PAYMENT_CALL_SECONDS.labels(operation=operation).observe(
                    time.perf_counter() - started
                )


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _outcome_of(status_code: int) -> str:
    if status_code >= 500:
        return "server_error"
    if status_code == 402:
        return "declined"
    if status_code >= 400:
        return "refused"
    return "ok"
