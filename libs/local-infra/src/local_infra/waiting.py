"""Bounded polling: wait for a condition with a deadline instead of fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def poll_until(
    attempt: Callable[[], Awaitable[bool]],
    *,
    wait_seconds: float,
    interval: float = 0.2,
) -> bool:
    """Call `attempt` until it returns True or `wait_seconds` pass; True if it succeeded."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if await attempt():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
