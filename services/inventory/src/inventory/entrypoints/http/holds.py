"""Holds asked for synchronously: booking-command's group commit, before it stores."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import APIRouter, Depends

from inventory.adapters import metrics
from inventory.application.hold_tickets import HoldBatchResult, HoldTickets
from inventory.domain import outcomes
from inventory.domain.holds import HoldAnswer, HoldGranted
from inventory.domain.sale import PurchaseLimitReached, SaleWindow
from inventory.entrypoints.subscribers import is_transient
from service_kit.circuit_breakers import CircuitBreaker
from service_kit.errors import DependencyUnavailableError, ForbiddenError, InvalidInputError
from service_kit.http_errors import error_responses
from service_kit.internal_auth import Caller, VerifiedCaller
from service_kit.request_context import current_correlation_id, new_id
from ticketing_contracts.holds import (
    MAX_HOLDS_PER_BATCH,
    Held,
    HoldBatch,
    HoldBatchAnswer,
    Refused,
)
from ticketing_contracts.internal_http import BOOKING_COMMAND

TAG: Final = "holds"
TAG_DESCRIPTION: Final = (
    "Holds asked for synchronously by booking-command's group commit before it stores the "
    "bookings. A hold waits for its booking's fact on Kafka (its claim). A background "
    "sweeper looks every UNCLAIMED_HOLD_CHECK_SECONDS for holds not claimed within "
    "UNCLAIMED_HOLD_SECONDS, asks booking-command which of them it stores (POST "
    "/internal/v1/bookings/known), and releases only those it does not, publishing one "
    "inventory.stock_changed per ticket type it released tickets of; when booking-command "
    "does not answer it releases nothing and asks again. A released hold's booking id is "
    "refused `hold_released` from then on."
)


async def booking_command_caller(caller: VerifiedCaller) -> Caller:
    """booking-command's own token: holds are for the write side's group commit, never a
    person's call, nor the gateway's (its bookings go through booking-command)."""
    if not caller.is_service(BOOKING_COMMAND):
        raise ForbiddenError("only booking-command's own token may hold tickets")
    return caller


def holds_router(
    hold_tickets: Callable[[], HoldTickets],
    postgres_breaker: CircuitBreaker,
    *,
    max_batch: int,
    after_commit: Callable[[], None] = lambda: None,
) -> APIRouter:
    router = APIRouter(prefix="/internal/v1", tags=[TAG])

    @router.post(
        "/holds",
        response_model=HoldBatchAnswer,
        summary="Hold tickets for a batch of bookings, in one transaction",
        description=(
            "Answers 200 with one answer per request, in order: `held` with "
            "`hold_expires_at` (now + the event's `hold_minutes`, else HOLD_SECONDS), or "
            "`refused` with a reason: `sold_out` (also while the ticket type's waitlist has "
            "open entries: returned tickets go to it first), `not_enough_tickets`, "
            "`sales_closed` (the organiser closed the ticket type's sales), "
            "`offer_not_valid` (the `offer_id` named is not the owner's open offer for this "
            "ticket type and quantity, or has expired), `unknown_event`, "
            "`unknown_ticket_type` (also a removed one), "
            "`event_not_on_sale` (a draft), `event_cancelled` (decided as for a booking "
            "fact, after the catalog has caught up), `not_on_sale` (outside the ticket "
            "type's sale window by inventory's clock, with `sale_starts_at` and "
            "`sale_ends_at`), `purchase_limit_reached` (the owner's held and bought "
            "tickets of the event or ticket type plus this booking's would pass its "
            "limit, with `limit_scope`, `max_tickets_per_account` and "
            "`tickets_held_or_bought`), or `hold_released` (this booking id's hold was "
            "released and is never made again). Idempotent by booking id: a booking id "
            "seen before is answered as the first time and nothing changes, so a retry "
            "after a timeout never holds twice; only `not_on_sale`, `sales_closed` and "
            "`purchase_limit_reached` are not remembered (the same id is decided again "
            "when asked again). A hold with an `offer_id` takes up the offer's held tickets "
            "(the offer ends `accepted`). A batch publishes one "
            "inventory.stock_changed per ticket type it held tickets of, with the stock "
            "after all its holds; refusals are only answered. A hold must be claimed: "
            "booking-command stores the booking and inventory consumes its fact within "
            "UNCLAIMED_HOLD_SECONDS, or the sweeper asks and releases it (see the tag). "
            f"At most HOLD_BATCH_MAX (default 500, at most {MAX_HOLDS_PER_BATCH}) holds per "
            "call, each booking id once (422 otherwise). 503 with Retry-After "
            "when PostgreSQL or the catalog is not available: nothing was decided, retry. "
            "Only booking-command's own token (issuer `booking-command`, role `service`) "
            "may call: 403 for a person's, the gateway's or another service's."
        ),
        responses=error_responses(401, 403, 422, 503),
    )
    async def hold(
        batch: HoldBatch, _: Annotated[Caller, Depends(booking_command_caller)]
    ) -> HoldBatchAnswer:
        if len(batch.holds) > max_batch:
            raise InvalidInputError(
                f"at most {max_batch} holds per batch (got {len(batch.holds)})",
                error_type="batch_too_large",
            )
        lines = [
            outcomes.BookingLine(
                h.booking_id, h.event_id, h.ticket_type_id, h.quantity, h.owner_id, h.offer_id
            )
            for h in batch.holds
        ]
        metrics.HOLD_BATCH_SIZE.observe(len(lines))
        started = time.perf_counter()
        try:
            with postgres_breaker.calling():
                result = await hold_tickets()(
                    lines, correlation_id=current_correlation_id() or new_id()
                )
        except Exception as error:
            if is_transient(error):
                raise DependencyUnavailableError(
                    f"holds not decided, retry: {type(error).__name__}", retry_after_seconds=1
                ) from error
            raise
        finally:
            metrics.HOLD_BATCH_SECONDS.observe(time.perf_counter() - started)
        if result.decided:
            after_commit()
        _count(result, len(lines))
        return HoldBatchAnswer(answers=[_answer(answer) for answer in result.answers])

    return router


def _answer(answer: HoldAnswer) -> Held | Refused:
    if isinstance(answer, HoldGranted):
        return Held(booking_id=answer.booking_id, hold_expires_at=answer.expires_at)
    detail = answer.detail
    if isinstance(detail, SaleWindow):
        return Refused(
            booking_id=answer.booking_id,
            reason=answer.reason,
            sale_starts_at=detail.starts_at,
            sale_ends_at=detail.ends_at,
        )
    if isinstance(detail, PurchaseLimitReached):
        return Refused(
            booking_id=answer.booking_id,
            reason=answer.reason,
            limit_scope=detail.scope.value,
            max_tickets_per_account=detail.max_tickets_per_account,
            tickets_held_or_bought=detail.tickets_held_or_bought,
        )
    return Refused(booking_id=answer.booking_id, reason=answer.reason)


def _count(result: HoldBatchResult, asked: int) -> None:
    for outcome in result.decided:
        if isinstance(outcome, outcomes.TicketsReserved):
            metrics.RESERVATIONS.inc()
        else:
            metrics.REJECTIONS.labels(reason=outcome.reason.value).inc()
    if repeats := asked - len(result.decided):
        metrics.HOLD_REPEATS.inc(repeats)
