"""Background loops: readiness sees a loop that died; stop ends a running one."""

from __future__ import annotations

import asyncio

import pytest

from service_kit.background import BackgroundTask, WokenRounds


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


async def test_stop_does_not_wait_forever_for_a_loop_that_ignores_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = BackgroundTask("admission", stubborn)
    task.start()
    await started.wait()
    await task.stop(within_seconds=0.2)

    assert "admission did not stop within" in caplog.text
    release.set()


async def test_woken_rounds_run_again_at_once_while_busy_and_on_a_wake_up_after() -> None:
    answers = [True, True, RuntimeError("database restarting"), False, False]
    rounds_run = asyncio.Queue[int]()

    async def one_round() -> bool:
        answer = answers.pop(0)
        rounds_run.put_nowait(len(answers))
        if isinstance(answer, Exception):
            raise answer
        return answer

    # An hour of idle time: every round after the idle one must come from a wake-up.
    rounds = WokenRounds("worker", one_round, idle_seconds=3600)
    rounds.task.start()
    try:
        async with asyncio.timeout(5):
            assert [await rounds_run.get() for _ in range(3)] == [4, 3, 2]
            rounds.wake()  # the failed round waits like an idle one
            assert await rounds_run.get() == 1
            rounds.wake()
            assert await rounds_run.get() == 0
        assert rounds.task.alive
    finally:
        await rounds.task.stop()
    assert not rounds.task.alive
