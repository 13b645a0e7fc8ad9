"""The payment worker: brings each due payment to an end the provider agrees with.

It claims a batch of due payments with a lease (`Payments.claim_due`), settles each booking
concurrently (bounded) and records outcomes as they come (`Payments.record`), those finished
together in one transaction. Per booking:

- idempotency keys derived from the booking id: a retried call never charges twice;
- a retried payment (a timeout, a crash, an outage) first looks its intent up by key and
  continues from what the provider knows;
- authorise (manual capture) exactly the total, capture it, then record the confirmation
  that carries the capture; a decline rejects the booking (`payment_declined`);
- a booking that ended meanwhile (its hold expired) keeps its payment due until the
  worker has made sure nothing stays charged: an authorisation is cancelled, a capture
  is recorded and refunded; when nothing is found after an earlier attempt, it is looked
  up once more a while later (a timed-out create may land late) before it is forgotten;
- a cancelled booking (by its owner, an admin or its event's cancellation) has its refund
  due from the cancellation's transaction on: the worker refunds the capture in full.
While the provider is unavailable the payment stays due and is tried again later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from booking_command.application.executor import EventStoreExecutor
from booking_command.application.payments import Payments, PaymentTask
from booking_command.application.ports import (
    IntentStatus,
    PaymentDeclined,
    PaymentIntent,
    PaymentProvider,
    PaymentRequestRefused,
    PaymentUnavailable,
)
from booking_command.domain.booking import PaymentStatus
from booking_command.domain.payment import (
    Captured,
    CapturedAndRefunded,
    Declined,
    NothingCharged,
    PaymentResult,
    Refunded,
)
from service_kit.background import WokenRounds
from service_kit.tracing import continued_span

logger = logging.getLogger(__name__)


def charge_key(booking_id: UUID) -> str:
    return f"booking-{booking_id}-charge"


def capture_key(booking_id: UUID) -> str:
    return f"booking-{booking_id}-capture"


def cancel_key(booking_id: UUID) -> str:
    return f"booking-{booking_id}-cancel"


def refund_key(booking_id: UUID) -> str:
    return f"booking-{booking_id}-refund"


class LookAgainLater(PaymentUnavailable):
    """Nothing to decide yet: the payment is looked up again after a while."""


Outcome = tuple[PaymentTask, PaymentResult | PaymentUnavailable]


@dataclass(frozen=True)
class PaymentWorkerOptions:
    batch_size: int = 100
    concurrency: int = 32
    lease_seconds: float = 60.0
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    idle_poll_seconds: float = 1.0
    # How long after a first empty look-up an ended booking's payment is looked up again
    # before it is forgotten (a timed-out create may land late at the provider).
    recheck_after_seconds: float = 15.0


class PaymentWorker:
    """Charges due payments in batches; `wake()` starts a round at once."""

    def __init__(
        self,
        payments: Payments,
        provider: PaymentProvider,
        executor: EventStoreExecutor,
        options: PaymentWorkerOptions = PaymentWorkerOptions(),
        *,
        after_record: Callable[[], None] = lambda: None,
        observe: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.payments = payments
        self.provider = provider
        self.executor = executor
        self.options = options
        self._after_record = after_record
        self._observe = observe
        self._rounds = WokenRounds("payment-worker", self.run_once, self.options.idle_poll_seconds)
        # Ended bookings whose look-up found no payment: when first (the store's clock).
        self._found_nothing: dict[UUID, datetime] = {}

    def start(self) -> None:
        self._rounds.task.start()

    async def stop(self) -> None:
        await self._rounds.task.stop()

    async def probe(self) -> None:
        await self._rounds.task.probe()

    def wake(self) -> None:
        self._rounds.wake()

    async def run_once(self) -> bool:
        """One batch; True when it was full (more may be due at once). Each outcome is
        recorded as soon as it is known, with whatever else finished meanwhile: a slow
        charge never holds back the confirmations of the rest of the batch."""
        lease = timedelta(seconds=self.options.lease_seconds)
        tasks = await self.executor.run(self.payments.claim_due, self.options.batch_size, lease)
        if not tasks:
            return False
        limit = asyncio.Semaphore(self.options.concurrency)
        # Each payment continues its request's trace; its facts continue the payment's span.
        traces: dict[UUID, str | None] = {}

        async def bounded(task: PaymentTask) -> Outcome:
            async with limit:
                with continued_span("payment", task.traceparent) as traceparent:
                    traces[task.booking_id] = traceparent or task.traceparent
                    try:
                        return task, await self.settle(task)
                    except PaymentUnavailable as unavailable:
                        return task, unavailable

        running = {asyncio.ensure_future(bounded(task)) for task in tasks}
        more = False
        try:
            while running:
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                outcomes = [future.result() for future in finished]
                more = await self._record(outcomes, traces) or more
        finally:
            for future in running:
                future.cancel()
        return len(tasks) >= self.options.batch_size or more

    async def _record(
        self, outcomes: Sequence[Outcome], traces: Mapping[UUID, str | None] = {}
    ) -> bool:
        """Records results, postpones what must wait; True when a refund is due at once."""
        results = [answer for _, answer in outcomes if not isinstance(answer, PaymentUnavailable)]
        report = await self.executor.run(self.payments.record, results, traces)
        delays: dict[float, list[UUID]] = {}
        for task, answer in outcomes:
            if not isinstance(answer, PaymentUnavailable):
                continue
            if isinstance(answer, LookAgainLater):
                logger.info(
                    "ended booking: no payment found yet; looked up again later",
                    extra={"booking_id": str(task.booking_id)},
                )
            else:
                logger.warning(
                    "payment provider unavailable; payment stays due",
                    extra={
                        "booking_id": str(task.booking_id),
                        "attempt": task.attempts + 1,
                        "error": str(answer),
                    },
                )
            self._observe("postponed")
            delay = max(answer.retry_after_seconds, self._backoff(task.attempts))
            delays.setdefault(delay, []).append(task.booking_id)
        for delay, booking_ids in delays.items():
            await self.executor.run(self.payments.postpone, booking_ids, timedelta(seconds=delay))
        if report.to_refund:
            await self.executor.run(self.payments.postpone, list(report.to_refund), timedelta())
        if results:
            self._after_record()
        return bool(report.to_refund)

    def _backoff(self, attempts: int) -> float:
        initial, most = self.options.retry_initial_seconds, self.options.retry_max_seconds
        return float(min(most, initial * 2 ** min(attempts, 16)))

    async def settle(self, task: PaymentTask) -> PaymentResult:
        """Brings one booking's payment to an end the provider agrees with."""
        if task.payment_status == PaymentStatus.CAPTURED and task.payment_reference is not None:
            # Recorded as captured but not confirmed: the booking had ended meanwhile.
            return await self._refund(task, task.payment_reference)
        intent: PaymentIntent | None = None
        if task.attempts > 0 or not task.pending:
            intent = await self.provider.find_intent(charge_key(task.booking_id))
        if not task.pending:
            return await self._end_for_ended_booking(task, intent)
        if intent is None:
            try:
                intent = await self.provider.create_intent(
                    idempotency_key=charge_key(task.booking_id),
                    amount=task.amount,
                    currency=task.currency.lower(),
                    payment_token=task.payment_token,
                    booking_id=task.booking_id,
                )
            except PaymentDeclined as declined:
                self._observe("declined")
                logger.info(
                    "payment declined",
                    extra={"booking_id": str(task.booking_id), "decline": declined.decline_code},
                )
                return Declined(task.booking_id, task.correlation_id)
            except PaymentRequestRefused as refused:
                logger.error(
                    "payment provider refused the charge; the booking is rejected",
                    extra={"booking_id": str(task.booking_id), "error": str(refused)},
                )
                self._observe("refused")
                return Declined(task.booking_id, task.correlation_id)
        if intent.status in (IntentStatus.REQUIRES_PAYMENT_METHOD, IntentStatus.CANCELED):
            self._observe("declined")
            return Declined(task.booking_id, task.correlation_id)
        if intent.status == IntentStatus.REQUIRES_CAPTURE:
            intent = await self.provider.capture(
                intent.id, amount=task.amount, idempotency_key=capture_key(task.booking_id)
            )
        if intent.status != IntentStatus.SUCCEEDED:
            raise PaymentUnavailable(f"payment intent {intent.id} is {intent.status}")
        self._observe("captured")
        return Captured(
            task.booking_id, task.correlation_id, intent.id, intent.amount_received, intent.currency
        )

    async def _end_for_ended_booking(
        self, task: PaymentTask, intent: PaymentIntent | None
    ) -> NothingCharged | CapturedAndRefunded:
        if intent is None and task.attempts > 0:
            # A create sent earlier whose answer never came may still land at the
            # provider: only a look some time after the first empty one is trusted.
            first_empty = self._found_nothing.setdefault(task.booking_id, self.payments.now())
            waited = (self.payments.now() - first_empty).total_seconds()
            if waited < self.options.recheck_after_seconds:
                raise LookAgainLater(
                    "no payment found yet for an ended booking",
                    retry_after_seconds=self.options.recheck_after_seconds - waited,
                )
        self._found_nothing.pop(task.booking_id, None)
        if intent is None or intent.status in (
            IntentStatus.REQUIRES_PAYMENT_METHOD,
            IntentStatus.CANCELED,
        ):
            return NothingCharged(task.booking_id, task.correlation_id)
        if intent.status == IntentStatus.REQUIRES_CAPTURE:
            await self.provider.cancel(intent.id, idempotency_key=cancel_key(task.booking_id))
            self._observe("authorisation_cancelled")
            return NothingCharged(task.booking_id, task.correlation_id)
        if intent.status != IntentStatus.SUCCEEDED:
            raise PaymentUnavailable(f"payment intent {intent.id} is {intent.status}")
        captured = Captured(
            task.booking_id, task.correlation_id, intent.id, intent.amount_received, intent.currency
        )
        refunded = await self._refund(task, intent.id)
        return CapturedAndRefunded(
            task.booking_id,
            task.correlation_id,
            captured=captured,
            refund_reference=refunded.refund_reference,
            reason=refunded.reason,
        )

    async def _refund(self, task: PaymentTask, reference: str) -> Refunded:
        refund = await self.provider.refund(
            reference, amount=task.amount, idempotency_key=refund_key(task.booking_id)
        )
        self._observe("refunded")
        logger.info(
            "captured payment of an ended booking refunded",
            extra={
                "booking_id": str(task.booking_id),
                "refund": refund.id,
                "reason": task.refund_reason,
            },
        )
        return Refunded(
            task.booking_id,
            task.correlation_id,
            refund_reference=refund.id,
            reason=task.refund_reason,
        )
