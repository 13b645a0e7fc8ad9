"""Inventory's synchronous calls: the hold call (`POST /internal/v1/holds`: one batch of new
bookings, one answer each) and the question before a ticket type's quantity goes down or the
type is removed (`POST /internal/v1/ticket-type-changes`).

- Both are idempotent (by booking id, by change id), so every failure that may not have
  reached inventory, timeouts included, is retried (tenacity, exponential backoff with jitter).
- One circuit breaker (the kit's, state shared through Redis) counts transport failures and
  5xx answers of both; while open, calls fail at once and are answered 503.
- aiohttp, as for the payment provider: the hold call is on every booking's path.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from pydantic import TypeAdapter, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from booking_command.adapters.metrics import INVENTORY_HOLD_CALL_SECONDS, INVENTORY_HOLD_CALLS
from booking_command.application.ports import HoldAnswer, InventoryUnavailable, TicketsToHold
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError, seconds_until_trial
from service_kit.metrics import RETRIES
from ticketing_contracts.holds import HoldBatch, HoldBatchAnswer, HoldRequest, Refused
from ticketing_contracts.waitlist import (
    TicketTypeChangeAnswer,
    TicketTypeChangeQuestion,
    TicketTypeTaken,
)

HOLDS_PATH = "/internal/v1/holds"
TICKET_TYPE_CHANGES_PATH = "/internal/v1/ticket-type-changes"
_ANSWER = TypeAdapter(HoldBatchAnswer)
_CHANGE_ANSWER = TypeAdapter(TicketTypeChangeAnswer)


class _ServerFailure(Exception):
    """A 5xx answer, raised inside the breaker so it counts as a failure."""


class HttpInventory:
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
        self._base_url = base_url.rstrip("/")
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
                    offer_id=request.offer_id,
                )
                for request in requests
            ]
        ).model_dump_json()
        status, content = await self._call(HOLDS_PATH, body, "hold")
        if status != 200:
            # A 4xx is a bug on one side (credential, body): no retry makes it pass.
            raise InventoryUnavailable(f"inventory refused the hold call ({status}): {content!r}")
        try:
            batch = _ANSWER.validate_json(content)
        except ValidationError as error:
            raise InventoryUnavailable(
                f"inventory's answer is not a hold answer: {error}"
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
            for answer in batch.answers
        ]
        if [answer.booking_id for answer in answers] != [r.booking_id for r in requests]:
            raise InventoryUnavailable("inventory answered for other bookings than asked")
        return answers

    async def change_ticket_type(
        self, question: TicketTypeChangeQuestion
    ) -> TicketTypeChangeAnswer:
        status, content = await self._call(
            TICKET_TYPE_CHANGES_PATH, question.model_dump_json(), "ticket_type_change"
        )
        if status in (200, 409):
            try:
                return _CHANGE_ANSWER.validate_json(content)
            except ValidationError:
                if status == 409:
                    return _refusal_from_error_body(question, content)
                raise InventoryUnavailable(
                    f"inventory's answer is not a ticket type change answer: {content!r}"
                ) from None
        if status == 404:
            # Inventory has not read the ticket type from the catalog yet: nothing of it can
            # be sold, held or offered there, and it will apply the stored fact in order.
            return TicketTypeChangeAnswer(
                outcome="applied",
                taken=TicketTypeTaken(
                    ticket_type_id=question.ticket_type_id,
                    quantity=question.quantity or 0,
                    sold=0,
                    held=0,
                    offered=0,
                ),
            )
        raise InventoryUnavailable(
            f"inventory refused the ticket type change ({status}): {content!r}"
        )

    async def _call(self, path: str, body: str, operation: str) -> tuple[int, bytes]:
        """Inventory's answer (status, body) to an idempotent call, after retries."""
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
            before_sleep=lambda _: RETRIES.labels(operation=f"inventory:{operation}").inc(),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(path, body, counted=operation == "hold")
        except CircuitBreakerError:
            if operation == "hold":
                INVENTORY_HOLD_CALLS.labels(outcome="breaker_open").inc()
            raise InventoryUnavailable(
                "inventory's circuit is open",
                retry_after_seconds=max(1, math.ceil(seconds_until_trial(self.breaker))),
            ) from None
        except (aiohttp.ClientError, TimeoutError, _ServerFailure) as error:
            raise InventoryUnavailable(
                f"inventory did not answer the {operation} call: {error!r}"
            ) from None
        raise AssertionError("tenacity neither returned nor raised")  # pragma: no cover

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._authorization is not None:  # None: no key of our own (refused, 401)
            headers["Authorization"] = self._authorization()
        return headers

    async def _send_once(self, path: str, body: str, *, counted: bool) -> tuple[int, bytes]:
        started = time.perf_counter()
        outcome: str | None = None  # None: never sent (breaker open)
        try:
            with self.breaker.calling():
                try:
                    async with self._session.post(
                        self._base_url + path, data=body, headers=self._headers()
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
            if outcome is not None and counted:
                INVENTORY_HOLD_CALLS.labels(outcome=outcome).inc()
                INVENTORY_HOLD_CALL_SECONDS.observe(time.perf_counter() - started)
        return status, content


def _refusal_from_error_body(
    question: TicketTypeChangeQuestion, content: bytes
) -> TicketTypeChangeAnswer:
    """A 409 in the kit's error shape (`error_type` and the figures beside it, or under
    `taken`) as a refusal; anything else is no answer."""
    try:
        body: Any = json.loads(content)
        figures = body.get("taken") or body
        return TicketTypeChangeAnswer(
            outcome="refused",
            reason=body["error_type"],
            taken=TicketTypeTaken(
                ticket_type_id=question.ticket_type_id,
                quantity=figures["quantity"],
                sold=figures["sold"],
                held=figures["held"],
                offered=figures["offered"],
            ),
        )
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError):
        raise InventoryUnavailable(
            f"inventory refused the ticket type change without saying why: {content!r}"
        ) from None
