"""Group commit: concurrent writes wait briefly and share one event-store transaction.

While one transaction is in flight the next batch gathers in the queue, so under
load the batch grows with the arrival rate and the write path does one commit per
batch, not one per request. A failed batch is retried write by write, so one bad
write (say, a reused idempotency key) fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from booking_command.application.executor import EventStoreExecutor
from booking_command.application.results import CommandResult, PendingWrite
from service_kit.background import BackgroundTask

logger = logging.getLogger(__name__)

Commit = Callable[[Sequence[PendingWrite]], list[CommandResult]]
_Item = tuple[PendingWrite, "asyncio.Future[CommandResult]"]


class GroupCommitter:
    def __init__(
        self,
        commit: Commit,
        executor: EventStoreExecutor,
        *,
        max_batch: int,
        observe_batch: Callable[[int], None] = lambda size: None,
    ) -> None:
        self._commit = commit
        self._executor = executor
        self._max_batch = max_batch
        self._observe_batch = observe_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task = BackgroundTask("group-commit", self._run)
        self.transactions = 0

    def start(self) -> None:
        self._task.start()

    @property
    def alive(self) -> bool:
        return self._task.alive

    async def probe(self) -> None:
        await self._task.probe()

    async def stop(self) -> None:
        """Commits what is queued, then stops."""
        if self._task.alive:
            await self._queue.join()
        await self._task.stop()

    async def submit(self, write: PendingWrite) -> CommandResult:
        [outcome] = await self.submit_many([write])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def submit_many(
        self, writes: Sequence[PendingWrite]
    ) -> list[CommandResult | BaseException]:
        """Queues the writes together (they share a transaction unless it would pass
        `max_batch`); each answers with its result or the error that failed it alone."""
        if not self.alive:
            raise RuntimeError("group commit is not running")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[CommandResult]] = []
        for write in writes:
            future: asyncio.Future[CommandResult] = loop.create_future()
            self._queue.put_nowait((write, future))
            futures.append(future)
        return await asyncio.gather(*futures, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Item]) -> None:
        try:
            await self._commit_or_split(batch)
        finally:
            for _ in batch:
                self._queue.task_done()

    async def _commit_or_split(self, batch: list[_Item]) -> None:
        try:
            results = await self._executor.run(self._commit, [write for write, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error=error)
                return
            logger.info(
                "group commit of %d writes failed (%s); retrying in halves", len(batch), error
            )
            middle = len(batch) // 2
            await self._commit_or_split(batch[:middle])
            await self._commit_or_split(batch[middle:])
            return
        self.transactions += 1
        self._observe_batch(len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[CommandResult],
    *,
    result: CommandResult | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
