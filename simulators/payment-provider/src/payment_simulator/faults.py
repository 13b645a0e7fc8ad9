"""Fault injection for the provider API (/v1/*): down, a share of errors, added latency.

Faults live in the process's memory: a restarted simulator answers normally again.
"""

from __future__ import annotations

import asyncio
import random

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payment_simulator.errors import ProviderError, ProviderFailure, ProviderUnavailable
from payment_simulator.schemas import Faults

PROVIDER_API_PREFIX = "/v1/"


class FaultInjector:
    def __init__(self) -> None:
        self.faults = Faults()
        # Chaos, not cryptography: which calls fail needs no secure randomness.
        self._random = random.Random()  # noqa: S311

    def set(self, faults: Faults) -> Faults:
        self.faults = faults
        return faults

    def reset(self) -> Faults:
        return self.set(Faults())

    def failure_before_work(self) -> ProviderError | None:
        faults = self.faults
        if faults.down:
            return ProviderUnavailable(
                "The payment provider is unavailable (simulated outage).",
                code="service_unavailable",
            )
        if faults.error_rate and self._random.random() < faults.error_rate:
            return ProviderFailure(
                "The payment provider failed to process the request (simulated)."
            )
        return None


class FaultMiddleware:
    """Applies the injector's faults to /v1/* calls (plain ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROVIDER_API_PREFIX):
            await self.app(scope, receive, send)
            return
        failure = self.injector.failure_before_work()
        if failure is not None:
            response = JSONResponse(failure.body(), status_code=failure.status_code)
            await response(scope, receive, send)
            return
        latency_seconds = self.injector.faults.latency_ms / 1000
        if not latency_seconds:
            await self.app(scope, receive, send)
            return

        async def send_late(message: Message) -> None:
            # The handler has finished its work when it starts the response.
            if message["type"] == "http.response.start":
                await asyncio.sleep(latency_seconds)
            await send(message)

        await self.app(scope, receive, send_late)
