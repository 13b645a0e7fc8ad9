"""An in-memory payment provider with the HTTP API's behaviour, for the worker's unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from uuid import UUID

from booking_command.application.ports import (
    IntentStatus,
    PaymentDeclined,
    PaymentIntent,
    PaymentOutcomeUnknown,
    PaymentUnavailable,
    Refund,
)


@dataclass
class FakePaymentProvider:
    intents: dict[str, PaymentIntent] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    captures: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    down: bool = False
    # The next create stores and authorises the intent, but its answer never arrives.
    time_out_next_create: bool = False
    before_capture_answer: Callable[[], Awaitable[None]] | None = None
    # The next create's answer never arrives and the provider stores it only later, at
    # `land_late_creates()` (a request stuck on its way or in the provider's queue).
    delay_next_create: bool = False
    late_creates: list[tuple[str, PaymentIntent]] = field(default_factory=list)
    # A capture of this amount answers only once its event is set.
    capture_gates: dict[int, asyncio.Event] = field(default_factory=dict)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.down:
            raise PaymentUnavailable("provider down", retry_after_seconds=1.0)

    async def create_intent(
        self,
        *,
        idempotency_key: str,
        amount: int,
        currency: str,
        payment_token: str,
        booking_id: UUID,
    ) -> PaymentIntent:
        self._call("create_intent")
        if self.delay_next_create:
            self.delay_next_create = False
            late = PaymentIntent("pi_late", IntentStatus.REQUIRES_CAPTURE, amount, 0, currency)
            self.late_creates.append((idempotency_key, late))
            raise PaymentOutcomeUnknown("create timed out")
        if idempotency_key not in self.intents:
            status = (
                IntentStatus.REQUIRES_PAYMENT_METHOD
                if payment_token == "tok_chargeDeclined"
                else IntentStatus.REQUIRES_CAPTURE
            )
            self.intents[idempotency_key] = PaymentIntent(
                f"pi_{len(self.intents) + 1}", status, amount, 0, currency
            )
        intent = self.intents[idempotency_key]
        if intent.status == IntentStatus.REQUIRES_PAYMENT_METHOD:
            raise PaymentDeclined("generic_decline", intent)
        if self.time_out_next_create:
            self.time_out_next_create = False
            raise PaymentOutcomeUnknown("create timed out")
        return intent

    def _by_id(self, intent_id: str) -> tuple[str, PaymentIntent]:
        return next((key, i) for key, i in self.intents.items() if i.id == intent_id)

    async def capture(self, intent_id: str, *, amount: int, idempotency_key: str) -> PaymentIntent:
        self._call("capture")
        key, intent = self._by_id(intent_id)
        if intent.status == IntentStatus.REQUIRES_CAPTURE:
            intent = replace(intent, status=IntentStatus.SUCCEEDED, amount_received=amount)
            self.intents[key] = intent
            self.captures.append(intent_id)
        if self.before_capture_answer is not None:
            await self.before_capture_answer()
        if amount in self.capture_gates:
            await self.capture_gates[amount].wait()
        return intent

    def land_late_creates(self) -> None:
        for key, intent in self.late_creates:
            self.intents.setdefault(key, intent)
        self.late_creates.clear()

    async def find_intent(self, idempotency_key: str) -> PaymentIntent | None:
        self._call("find_intent")
        return self.intents.get(idempotency_key)

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent:
        self._call("cancel")
        key, intent = self._by_id(intent_id)
        intent = replace(intent, status=IntentStatus.CANCELED)
        self.intents[key] = intent
        return intent

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> Refund:
        self._call("refund")
        if idempotency_key not in self.refunds:
            self.refunds[idempotency_key] = Refund(f"re_{len(self.refunds) + 1}", amount)
        return self.refunds[idempotency_key]

    async def aclose(self) -> None:
        pass

    def charged(self) -> int:
        """Captured minor units not refunded."""
        refunded = sum(refund.amount for refund in self.refunds.values())
        captured = sum(i.amount_received for i in self.intents.values())
        return captured - refunded
