"""Coalesces concurrent booking requests into one call to booking-command.

The first request is sent at once, alone, as a plain booking request (no waiting).
Requests that arrive while a call is in flight queue up and leave together, as one
`RequestBookingBatch` of at most `max_batch`, when it returns. So under load each
call carries what arrived during the previous one, and booking-command stores it in
one transaction. Each client still gets its own answer; a failure of the whole call
(timeout, 5xx, breaker open) becomes that same error for every request in it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass

from pydantic import ValidationError

from gateway.application.ports import Downstream, DownstreamResponse
from gateway.application.read_your_writes import CommandOutcome, ReadYourWrites
from gateway.domain.users import Caller
from service_kit.errors import DependencyUnavailableError
from service_kit.request_context import accept_id, current_correlation_id
from ticketing_contracts.commands import (
    BookingRequestItem,
    RequestBooking,
    RequestBookingBatch,
    RequestBookingBatchResult,
)

logger = logging.getLogger(__name__)

BOOKINGS = "/internal/v1/bookings"
BOOKING_BATCHES = f"{BOOKINGS}/batch"


@dataclass(frozen=True)
class _Pending:
    caller: Caller
    command: RequestBooking
    idempotency_key: str | None
    correlation_id: str | None
    answer: asyncio.Future[CommandOutcome]


class BookingBatcher:
    def __init__(self, commands: Downstream, read_your_writes: ReadYourWrites, max_batch: int):
        self._commands = commands
        self._ryw = read_your_writes
        self._max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._sender: asyncio.Task[None] | None = None

    async def request(
        self, caller: Caller, command: RequestBooking, idempotency_key: str | None
    ) -> CommandOutcome:
        answer: asyncio.Future[CommandOutcome] = asyncio.get_running_loop().create_future()
        correlation_id = accept_id(current_correlation_id())
        self._queue.append(_Pending(caller, command, idempotency_key, correlation_id, answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_while_queued())
        return await answer

    async def _send_while_queued(self) -> None:
        while self._queue:
            count = min(len(self._queue), self._max_batch)
            batch = [self._queue.popleft() for _ in range(count)]
            try:
                await self._send(batch)
            except BaseException as error:
                # Nobody may wait forever: unexpected failures answer like an outage.
                logger.exception("booking batch of %d failed", len(batch))
                unavailable = DependencyUnavailableError(
                    "booking-command did not answer", retry_after_seconds=1
                )
                _fail(batch, unavailable)
                if isinstance(error, asyncio.CancelledError):
                    _fail(list(self._queue), unavailable)
                    self._queue.clear()
                    raise

    async def _send(self, batch: list[_Pending]) -> None:
        try:
            responses = await (
                self._send_one(batch[0]) if len(batch) == 1 else self._send_many(batch)
            )
        except Exception as error:
            _fail(batch, error)
            return
        answered = [
            (pending, response)
            for pending, response in zip(batch, responses, strict=True)
            if not isinstance(response, Exception)
        ]
        outcomes = await self._ryw.record_many(
            [(pending.caller, response) for pending, response in answered]
        )
        for (pending, _), outcome in zip(answered, outcomes, strict=True):
            if not pending.answer.done():
                pending.answer.set_result(outcome)
        for pending, response in zip(batch, responses, strict=True):
            if isinstance(response, Exception):
                _fail([pending], response)

    async def _send_one(self, pending: _Pending) -> list[DownstreamResponse | Exception]:
        response = await self._commands.request(
            "POST",
            BOOKINGS,
            caller=pending.caller,
            body=pending.command.model_dump_json(exclude_none=True).encode(),
            idempotency_key=pending.idempotency_key,
        )
        return [response]

    async def _send_many(self, batch: list[_Pending]) -> list[DownstreamResponse | Exception]:
        body = RequestBookingBatch(
            requests=[
                BookingRequestItem(
                    caller_id=pending.caller.user_id,
                    caller_role=pending.caller.role,
                    idempotency_key=pending.idempotency_key,
                    correlation_id=pending.correlation_id,
                    command=pending.command,
                )
                for pending in batch
            ]
        )
        # Nulls left out: a booking-command older than a new optional field (offer_id) still
        # reads the requests that do not use it.
        response = await self._commands.request(
            "POST",
            BOOKING_BATCHES,
            body=body.model_dump_json(exclude_none=True).encode(),
            as_gateway=True,
        )
        try:
            result = RequestBookingBatchResult.model_validate_json(response.content)
        except ValidationError:
            logger.error("booking-command answered a batch with something else")
            raise DependencyUnavailableError(
                "booking-command gave an unreadable answer", retry_after_seconds=1
            ) from None
        if len(result.outcomes) != len(batch):
            raise DependencyUnavailableError(
                "booking-command answered a different number of requests", retry_after_seconds=1
            )
        answers: list[DownstreamResponse | Exception] = []
        for outcome in result.outcomes:
            try:
                answers.append(
                    self._commands.answer(outcome.status_code, json.dumps(outcome.body).encode())
                )
            except Exception as error:
                answers.append(error)
        return answers


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for pending in batch:
        if not pending.answer.done():
            pending.answer.set_exception(error)
