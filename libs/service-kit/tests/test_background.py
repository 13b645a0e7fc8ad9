"""Background loops: readiness sees a loop that died; stop ends a running one."""

from __future__ import annotations

import asyncio

import pytest

from service_kit.background import BackgroundTask


async def test_probe_fails_once_the_loop_has_crashed() -> None:
    async def crash() -> None:
        raise RuntimeError("lost the database")

    task = BackgroundTask("relay", crash)
    task.start()
    await task.wait_stopped()
    with pytest.raises(RuntimeError, match="relay is not running"):
        await task.probe()
    await task.stop()


async def test_stop_cancels_a_running_loop() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = BackgroundTask("expiry", forever)
    task.start()
    await started.wait()
    await task.probe()
    await task.stop()
    assert not task.alive
