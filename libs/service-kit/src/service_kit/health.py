"""Liveness, readiness and the health summary.

Readiness runs every dependency check concurrently with a timeout; any failing
required check turns the answer into 503 so Kubernetes stops routing to the pod.
Results are shared for `cache_seconds`, and concurrent callers wait for one run, so
probing costs the dependencies the same however often the endpoints are called. An
error names only the failure's type: the details (hosts, addresses) go to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

Probe = Callable[[], Awaitable[None]]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DependencyCheck:
    """A named dependency; `probe` raises when the dependency cannot be used."""

    name: str
    probe: Probe
    required: bool = True


class CheckResult(BaseModel):
    status: Literal["up", "down"]
    required: bool
    latency_ms: float
    error: str | None = None


class ReadinessReport(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, CheckResult]


class HealthSummary(BaseModel):
    status: Literal["ok", "degraded"]
    service: str
    version: str
    environment: str
    timestamp: datetime
    uptime_seconds: float
    checks: dict[str, CheckResult]


@dataclass
class HealthRegistry:
    service: str
    version: str
    environment: str
    timeout_seconds: float = 2.0
    checks: list[DependencyCheck] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    draining: bool = False
    cache_seconds: float = 0.0
    _checked: tuple[float, dict[str, CheckResult]] | None = field(default=None, repr=False)
    _running: asyncio.Task[dict[str, CheckResult]] | None = field(default=None, repr=False)

    def add(self, name: str, probe: Probe, *, required: bool = True) -> None:
        self.checks.append(DependencyCheck(name, probe, required))
        self._checked = None

    async def _run(self, check: DependencyCheck) -> CheckResult:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check.probe(), timeout=self.timeout_seconds)
        except TimeoutError:
            error: str | None = f"no answer within {self.timeout_seconds:g}s"
        except Exception as failure:
            logger.warning("health check %s failed: %r", check.name, failure)
            error = type(failure).__name__
        else:
            error = None
        return CheckResult(
            status="down" if error else "up",
            required=check.required,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            error=error,
        )

    async def _run_all(self) -> dict[str, CheckResult]:
        checks = list(self.checks)
        results = await asyncio.gather(*(self._run(check) for check in checks))
        outcome = {check.name: result for check, result in zip(checks, results, strict=True)}
        self._checked = (time.monotonic(), outcome)
        return outcome

    async def _checks(self) -> dict[str, CheckResult]:
        if self._checked is not None:
            checked_at, outcome = self._checked
            if time.monotonic() - checked_at < self.cache_seconds:
                return outcome
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._run_all())
        # Shielded: a caller that goes away does not cancel the others' answer.
        return await asyncio.shield(self._running)

    async def readiness(self) -> ReadinessReport:
        checks = await self._checks()
        ready = not self.draining and all(
            result.status == "up" for result in checks.values() if result.required
        )
        return ReadinessReport(status="ready" if ready else "not_ready", checks=checks)


def health_router(registry: HealthRegistry) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["operations"])
    not_ready: dict[int | str, dict[str, Any]] = {
        503: {"model": ReadinessReport, "description": "A required dependency is down"}
    }

    @router.get("/live", summary="Liveness: the process is up and serving")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get(
        "/ready",
        summary="Readiness: every required dependency answers",
        response_model=ReadinessReport,
        responses=not_ready,
    )
    async def ready() -> JSONResponse:
        report = await registry.readiness()
        status = 200 if report.status == "ready" else 503
        return JSONResponse(report.model_dump(mode="json"), status_code=status)

    @router.get(
        "",
        summary="Health summary with version, time and dependency checks",
        response_model=HealthSummary,
        responses=not_ready,
    )
    async def summary() -> JSONResponse:
        report = await registry.readiness()
        all_up = all(result.status == "up" for result in report.checks.values())
        body = HealthSummary(
            status="ok" if report.status == "ready" and all_up else "degraded",
            service=registry.service,
            version=registry.version,
            environment=registry.environment,
            timestamp=datetime.now(UTC),
            uptime_seconds=round(time.monotonic() - registry.started_at, 3),
            checks=report.checks,
        )
        return JSONResponse(
            body.model_dump(mode="json"), status_code=200 if report.status == "ready" else 503
        )

    return router


def mount_health(app: FastAPI, registry: HealthRegistry) -> None:
    app.include_router(health_router(registry))
