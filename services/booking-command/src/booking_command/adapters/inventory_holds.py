"""Inventory's hold call (`POST /internal/v1/holds`): one batch of new bookings, one answer each.

- The call is idempotent by booking id, so every failure that may not have reached
  inventory, timeouts included, is retried (tenacity, exponential backoff with jitter).
- A circuit breaker (the kit's, state shared through Redis) counts transport failures and
  5xx answers; while open, calls fail at once and the bookings are answered 503.
- aiohttp, as for the payment provider: the call is on every booking's path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import aiohttp
from pydantic import TypeAdapter, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from booking_command.adapters.metrics import INVENTORY_HOLD_CALL_SECONDS, INVENTORY_HOLD_CALLS
from booking_command.application.ports import HoldAnswer, InventoryUnavailable, TicketsToHold
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError, seconds_until_trial
from service_kit.metrics import RETRIES
from ticketing_contracts.holds import HoldBatch, HoldBatchAnswer, HoldRequest, Refused

HOLDS_PATH = "/internal/v1/holds"
_ANSWER = TypeAdapter(HoldBatchAnswer)


class _ServerFailure(Exception):
    """A 5xx answer, raised inside the breaker so it counts as a failure."""


class HttpInventoryHolds:
    def __init__(
        self,
        base_url: str,
        authorization: Callable[[], str] | None,
        session: aiohttp.ClientSession,
        breaker: CircuitBreaker,
        *,
        retry_attempts: int,
        retry_initial_seconds: float,
        retry_max_seconds: float,
    ) -> None:
        self._url = base_url.rstrip("/") + HOLDS_PATH
        self._authorization = authorization
        self._session = session
        self.breaker = breaker
        self._attempts = retry_attempts
        self._initial_backoff = retry_initial_seconds
        self._max_backoff = retry_max_seconds

    async def aclose(self) -> None:
        await self._session.close()
        await self.breaker.aclose()

    async def hold(self, requests: Sequence[TicketsToHold]) -> list[HoldAnswer]:
        body = HoldBatch(
            holds=[
                HoldRequest(
                    booking_id=request.booking_id,
                    event_id=request.event_id,
                    ticket_type_id=request.ticket_type_id,
                    quantity=request.quantity,
                    owner_id=request.owner_id,
                )
                for request in requests
            ]
        ).model_dump_json()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=self._initial_backoff,
                jitter=self._initial_backoff,
                max=self._max_backoff,
            ),
            retry=retry_if_exception(
                lambda error: isinstance(error, aiohttp.ClientError | TimeoutError | _ServerFailure)
            ),
            before_sleep=lambda _: RETRIES.labels(operation="inventory:hold").inc(),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    answer = await self._send_once(body)
        except CircuitBreakerError:
            INVENTORY_HOLD_CALLS.labels(outcome="breaker_open").inc()
            raise InventoryUnavailable(
                "inventory's circuit is open",
                retry_after_seconds=max(1, math.ceil(seconds_until_trial(self.breaker))),
            ) from None
        except (aiohttp.ClientError, TimeoutError, _ServerFailure) as error:
            raise InventoryUnavailable(
                f"inventory did not answer the hold call: {error!r}"
            ) from None
        answers = [
            HoldAnswer(
                answer.booking_id,
                held=False,
                refusal=answer.reason,
                refusal_details=answer.details(),
            )
            if isinstance(answer, Refused)
            else HoldAnswer(answer.booking_id, held=True)
            for answer in answer.answers
        ]
        if [answer.booking_id for answer in answers] != [r.booking_id for r in requests]:
            raise InventoryUnavailable("inventory answered for other bookings than asked")
        return answers

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._authorization is not None:  # None: no key of our own (refused, 401)
            headers["Authorization"] = self._authorization()
        return headers

    async def _send_once(self, body: str) -> HoldBatchAnswer:
        started = time.perf_counter()
        outcome: str | None = None  # None: never sent (breaker open)
        try:
            with self.breaker.calling():
                try:
                    async with self._session.post(
                        self._url, data=body, headers=self._headers()
                    ) as response:
                        status, content = response.status, await response.read()
                except TimeoutError:
                    outcome = "timeout"
                    raise
                except aiohttp.ClientError:
                    outcome = "unreachable"
                    raise
                outcome = "ok" if status == 200 else "server_error" if status >= 500 else "refused"
                if status >= 500:
                    raise _ServerFailure(f"inventory answered {status}")
        finally:
            if outcome is not None:
                INVENTORY_HOLD_CALLS.labels(outcome=outcome).inc()
                INVENTORY_HOLD_CALL_SECONDS.observe(time.perf_counter() - started)
        if status != 200:
            # A 4xx is a bug on one side (credential, body): no retry makes it pass.
            raise InventoryUnavailable(f"inventory refused the hold call ({status}): {content!r}")
        try:
            return _ANSWER.validate_json(content)
        except ValidationError as error:
            raise InventoryUnavailable(
                f"inventory's answer is not a hold answer: {error}"
            ) from None
