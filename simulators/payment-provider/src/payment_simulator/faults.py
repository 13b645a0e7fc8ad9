"""Fault injection for the provider API (/v1/*): down, a share of errors, added latency.

Faults live in the process's memory: a restarted simulator answers normally again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse

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

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith(PROVIDER_API_PREFIX):
            return await call_next(request)
        failure = self.failure_before_work()
        if failure is not None:
            return JSONResponse(failure.body(), status_code=failure.status_code)
        response = await call_next(request)
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        return response
