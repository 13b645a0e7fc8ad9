"""The async face of the use cases: idempotency, optimistic retries and group commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.results import CommandResult, IdempotencyClaim, PendingWrite
from service_kit.errors import ConflictError, DomainError
from service_kit.request_context import correlation_id_var

logger = logging.getLogger(__name__)

CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class BatchItem:
    """One command of a batch, with its own idempotency claim and correlation id."""

    prepare: Callable[[], PendingWrite]
    idempotency: IdempotencyClaim | None
    correlation_id: str


BatchOutcome = CommandResult | DomainError


class _Deferred:
    """A key claimed earlier in the same batch: answered after that claim commits."""


_DEFERRED = _Deferred()


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

    async def execute_batch(self, items: Sequence[BatchItem]) -> list[BatchOutcome]:
        """Runs every item like `execute(..., batched=True)`, in one thread hop to prepare
        them all and one group-commit unit to store them; each item fails alone."""
        prepared = await self.executor.run(self._prepare_all, items)
        writes = [
            (index, step) for index, step in enumerate(prepared) if isinstance(step, PendingWrite)
        ]
        committed = await self.group_commit.submit_many([write for _, write in writes])
        outcomes: list[BatchOutcome | None] = [
            step if isinstance(step, CommandResult | DomainError) else None for step in prepared
        ]
        if writes:
            self._after_commit()
        for (index, _), result in zip(writes, committed, strict=True):
            if isinstance(result, CommandResult):
                outcomes[index] = result
            elif not isinstance(result, IntegrityError):
                raise result
        # Conflicted writes and repeated keys take the single path; a replay answers most.
        for index, outcome in enumerate(outcomes):
            if outcome is None:
                outcomes[index] = await self._execute_alone(items[index])
        return [outcome for outcome in outcomes if outcome is not None]

    def _prepare_all(
        self, items: Sequence[BatchItem]
    ) -> list[PendingWrite | CommandResult | DomainError | _Deferred]:
        claims = [item.idempotency for item in items if item.idempotency is not None]
        replays = self.app.idempotency.replay_many(claims) if claims else {}
        prepared: list[PendingWrite | CommandResult | DomainError | _Deferred] = []
        claimed: set[tuple[str, str]] = set()
        for item in items:
            claim = item.idempotency
            if claim is not None:
                if (claim.scope, claim.key) in claimed:
                    prepared.append(_DEFERRED)
                    continue
                claimed.add((claim.scope, claim.key))
                replayed = replays.get(claim)
                if replayed is not None:
                    prepared.append(replayed)
                    continue
            token = correlation_id_var.set(item.correlation_id)
            try:
                write = item.prepare()
            except DomainError as error:
                prepared.append(error)
                continue
            finally:
                correlation_id_var.reset(token)
            write.idempotency = claim
            prepared.append(write)
        return prepared

    async def _execute_alone(self, item: BatchItem) -> BatchOutcome:
        token = correlation_id_var.set(item.correlation_id)
        try:
            return await self.execute(item.prepare, idempotency=item.idempotency, batched=True)
        except DomainError as error:
            return error
        finally:
            correlation_id_var.reset(token)
