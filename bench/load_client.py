"""A closed-loop HTTP load client: N workers, each sending its next request when the last answers.

The same client drives the platform and every HTTP baseline, so their figures compare.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

RequestFn = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass
class LoadResult:
    started: float
    finished: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    # (answered at, seconds since start; latency in seconds; request index; HTTP status)
    timeline: list[tuple[float, float, int, int]] = field(default_factory=list)
    errors: int = 0

    @property
    def duration(self) -> float:
        return self.finished - self.started

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration if self.duration else 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(values, 0.50) * 1000,
        "p95_ms": percentile(values, 0.95) * 1000,
        "p99_ms": percentile(values, 0.99) * 1000,
        "mean_ms": (statistics.fmean(values) * 1000) if values else float("nan"),
    }


async def run_load(
    base_url: str,
    request: RequestFn,
    *,
    total: int,
    concurrency: int,
    request_timeout_seconds: float = 30.0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Send `total` requests with `concurrency` workers; record latency and status of each."""
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    result = LoadResult(started=time.perf_counter(), finished=0.0)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=request_timeout_seconds, limits=limits, headers=headers
    ) as client:

        async def worker() -> None:
            for index in counter:
                sent = time.perf_counter()
                try:
                    response = await request(client, index)
                except httpx.HTTPError:
                    result.errors += 1
                    continue
                answered = time.perf_counter()
                result.latencies.append(answered - sent)
                result.statuses[response.status_code] = (
                    result.statuses.get(response.status_code, 0) + 1
                )
                result.timeline.append(
                    (answered - result.started, answered - sent, index, response.status_code)
                )

        result.started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.finished = time.perf_counter()
    return result


async def run_paced(
    base_url: str,
    request: RequestFn,
    *,
    rate: float,
    duration_seconds: float,
    max_in_flight: int = 256,
    request_timeout_seconds: float = 30.0,
) -> LoadResult:
    """Open loop: start requests at a fixed `rate` for `duration_seconds`, whatever the answers.

    Latency is measured from each request's scheduled start, so a server that falls
    behind shows it (no coordinated omission). `max_in_flight` bounds the client.
    """
    total = max(1, int(rate * duration_seconds))
    interval = 1.0 / rate
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    result = LoadResult(started=time.perf_counter(), finished=0.0)
    in_flight = asyncio.Semaphore(max_in_flight)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=request_timeout_seconds, limits=limits
    ) as client:

        async def one(index: int, scheduled: float) -> None:
            try:
                response = await request(client, index)
            except httpx.HTTPError:
                result.errors += 1
                return
            finally:
                in_flight.release()
            answered = time.perf_counter()
            result.latencies.append(answered - scheduled)
            result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
            result.timeline.append(
                (answered - result.started, answered - scheduled, index, response.status_code)
            )

        tasks: list[asyncio.Task[None]] = []
        result.started = time.perf_counter()
        for index in range(total):
            scheduled = result.started + index * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await in_flight.acquire()
            tasks.append(asyncio.create_task(one(index, scheduled)))
        await asyncio.gather(*tasks)
        result.finished = time.perf_counter()
    return result
