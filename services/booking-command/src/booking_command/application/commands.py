"""The async face of the use cases: idempotency, optimistic retries and group commit."""

from __future__ import annotations

import logging
from collections.abc import Callable

from eventsourcing.persistence import IntegrityError

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.results import CommandResult, IdempotencyClaim, PendingWrite
from service_kit.errors import ConflictError

logger = logging.getLogger(__name__)

CONFLICT_RETRIES = 5


class CommandService:
    def __init__(
        self,
        app: BookingCommandApplication,
        executor: EventStoreExecutor,
        group_commit: GroupCommitter,
        *,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.executor = executor
        self.group_commit = group_commit
        self._after_commit = after_commit

    async def execute(
        self,
        prepare: Callable[[], PendingWrite],
        *,
        idempotency: IdempotencyClaim | None = None,
        batched: bool = False,
    ) -> CommandResult:
        """Prepares and stores a write; the same idempotency key answers the same way."""
        if idempotency is not None:
            replayed = await self.executor.run(self.app.idempotency.replay, idempotency)
            if replayed is not None:
                return replayed
        for _ in range(CONFLICT_RETRIES):
            write = await self.executor.run(prepare)
            write.idempotency = idempotency
            try:
                if batched:
                    result = await self.group_commit.submit(write)
                else:
                    [result] = await self.executor.run(self.app.commit, [write])
            except IntegrityError:
                if idempotency is not None:
                    replayed = await self.executor.run(self.app.idempotency.replay, idempotency)
                    if replayed is not None:
                        return replayed
                logger.info("write conflicted with a concurrent one; retrying")
                continue
            self._after_commit()
            return result
        raise ConflictError(
            "the resource kept changing concurrently; try again",
            error_type="concurrent_modification",
        )
