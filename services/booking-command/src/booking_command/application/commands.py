"""The async face of the use cases: idempotency, optimistic retries, holds and group commit.

A new booking is stored only once inventory holds its tickets: the writes of a batch ask
inventory in one call, just before they go to the group commit. A held booking's payment
falls due in the same commit; a refused one is answered 409 with inventory's reason and
stores nothing; when inventory cannot answer, 503 and nothing is stored (a hold it made
anyway is released by its sweeper, which asks us first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.ports import (
    BookingDisowned,
    HoldAnswer,
    InventoryHolds,
    InventoryUnavailable,
)
from booking_command.application.results import CommandResult, IdempotencyClaim, PendingWrite
from booking_command.application.views import booking_view
from booking_command.domain.booking import Booking
from service_kit.errors import (
    ConflictError,
    DependencyUnavailableError,
    DomainError,
    InsufficientCapacityError,
    SoldOutError,
)
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
        inventory: InventoryHolds,
        *,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.executor = executor
        self.group_commit = group_commit
        self.inventory = inventory
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
            refused = await self._hold_tickets([write])
            if refused:
                raise refused[0]
            try:
                if batched:
                    result = await self.group_commit.submit(write)
                else:
                    [result] = await self.executor.run(self.app.commit, [write])
            except BookingDisowned:
                raise hold_released_error() from None
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
        refused = await self._hold_tickets([write for _, write in writes])
        for position, error in refused.items():
            prepared[writes[position][0]] = error
        writes = [write for position, write in enumerate(writes) if position not in refused]
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

    async def _hold_tickets(self, writes: Sequence[PendingWrite]) -> dict[int, DomainError]:
        """Has inventory hold the tickets of the new bookings among `writes`, in one call;
        the held ones owe their payment from now on. Returns the refused writes' errors by
        their place in `writes`."""
        asking = [
            (position, write, write.hold)
            for position, write in enumerate(writes)
            if write.hold is not None
        ]
        if not asking:
            return {}
        try:
            answers = await self.inventory.hold([hold for _, _, hold in asking])
        except InventoryUnavailable as error:
            logger.warning("inventory did not answer a hold call: %s", error)
            unavailable = DependencyUnavailableError(
                "inventory cannot answer now; nothing was booked, try again",
                retry_after_seconds=error.retry_after_seconds,
            )
            return {position: unavailable for position, _, _ in asking}
        refused: dict[int, DomainError] = {}
        for (position, write, _), answer in zip(asking, answers, strict=True):
            booking = write.primary
            assert isinstance(booking, Booking)
            if answer.held:
                booking.tickets_reserved()
                write.body = booking_view(booking)
            else:
                refused[position] = refusal_error(answer)
        return refused

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


def refusal_error(answer: HoldAnswer) -> DomainError:
    """Inventory's refusal as the error the caller gets (409 with its reason)."""
    reason = answer.refusal or "sold_out"
    if reason == "sold_out":
        return SoldOutError("the ticket type is sold out")
    if reason == "not_enough_tickets":
        return InsufficientCapacityError("fewer tickets are left than this booking asks for")
    if reason == "hold_released":
        return hold_released_error()
    return ConflictError(f"inventory refused the hold: {reason}", error_type=reason)


def hold_released_error() -> ConflictError:
    return ConflictError(
        "this booking's hold was released before it was stored; send the request again "
        "with a new Idempotency-Key",
        error_type="hold_released",
    )
