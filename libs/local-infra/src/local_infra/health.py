"""Readiness probing of service processes over HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from local_infra.errors import ServiceStartError
from local_infra.processes import is_alive, tail

READINESS_PATH = "/health/ready"


async def is_ready(base_url: str, request_seconds: float = 2.0) -> bool:
    try:
        async with httpx.AsyncClient(timeout=request_seconds) as client:
            response = await client.get(f"{base_url}{READINESS_PATH}")
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def wait_until_ready(
    name: str, base_url: str, *, pid: int, log_path: Path, wait_seconds: float
) -> float:
    """Seconds until `GET /health/ready` answered 200; raises if the process dies or time is up."""
    started = time.monotonic()
    deadline = started + wait_seconds
    last_answer = "no answer yet"
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if not is_alive(pid):
                raise ServiceStartError(
                    f"{name} (pid {pid}) exited before it was ready; last lines of "
                    f"{log_path}:\n{tail(log_path)}"
                )
            try:
                response = await client.get(f"{base_url}{READINESS_PATH}")
            except httpx.HTTPError as error:
                last_answer = repr(error)
            else:
                if response.status_code == 200:
                    return time.monotonic() - started
                last_answer = f"HTTP {response.status_code}: {response.text[:500]}"
            if time.monotonic() >= deadline:
                raise ServiceStartError(
                    f"{name} (pid {pid}) was not ready at {base_url}{READINESS_PATH} within "
                    f"{wait_seconds:.0f}s (last answer: {last_answer}); last lines of "
                    f"{log_path}:\n{tail(log_path)}"
                )
            await asyncio.sleep(0.25)
