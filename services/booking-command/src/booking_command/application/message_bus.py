"""The message bus: one handler per command, with idempotency, optimistic-conflict retries,
inventory holds and group commit as middleware around the handlers.

Messages travel in batches (one, or the gateway's coalesced booking requests), so a batch
costs one replay look-up, one thread hop to run its handlers, one inventory call and one
group-commit unit; each message fails alone. The middleware, outermost first:

- `ConflictRetries`: a change that lost an optimistic race is handled again, alone;
- `IdempotentReplays`: a known Idempotency-Key answers as it did the first time (a key
  repeated within a batch waits for the first to be stored);
- the handlers run, each returning a `Change` (its domain result and what it changed);
- `AskInventory`: a lower quantity or a ticket type's removal is stored only once
  inventory agrees (it applies a lower quantity at once); refused, 409 with what inventory
  counts as taken; inventory not answering, 503 and nothing stored;
- `HoldTickets`: a new booking is stored only once inventory holds its tickets; refused,
  409 with inventory's reason and nothing stored; inventory not answering, 503 and nothing
  stored (a hold it made anyway is released by its sweeper, which asks us first);
- `GroupCommit`: the entrypoint's answer to each change is recorded with its key and the
  changes share a transaction with others in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from booking_command.application.commands import Command
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.handlers import Handler
from booking_command.application.idempotency import Idempotency
from booking_command.application.ports import (
    BookingDisowned,
    HoldAnswer,
    InventoryHolds,
    InventoryTicketTypes,
    InventoryUnavailable,
)
from booking_command.application.results import (
    Answer,
    Change,
    CommandResult,
    IdempotencyClaim,
    PendingWrite,
)
from booking_command.domain.booking import Booking
from service_kit.errors import (
    ConflictError,
    DependencyUnavailableError,
    DomainError,
    InsufficientCapacityError,
    SoldOutError,
)
from service_kit.request_context import correlation_id_var, current_correlation_id, new_id
from service_kit.tracing import current_traceparent
from ticketing_contracts.waitlist import TicketTypeChangeAnswer

logger = logging.getLogger(__name__)

CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class Message:
    """A command, how its entrypoint answers its result, and the request it came with."""

    command: Command
    answer: Callable[[Any], Answer]
    idempotency: IdempotencyClaim | None = None
    correlation_id: str = field(default_factory=lambda: current_correlation_id() or new_id())
    traceparent: str | None = field(default_factory=current_traceparent)


Outcome = CommandResult | DomainError


class Conflicted:
    """The change lost an optimistic race with a concurrent one (nothing was stored)."""


CONFLICTED = Conflicted()
Handled = Outcome | Conflicted


@dataclass(frozen=True)
class Prepared:
    """A message its handler has changed the aggregates for, not stored yet."""

    message: Message
    change: Change[Any]


HandleStep = Callable[[Sequence[Message]], Awaitable[list[Handled]]]
StoreStep = Callable[[Sequence[Prepared]], Awaitable[list[Handled]]]


class Middleware(Protocol):
    """Wraps the handling of a batch of messages (before the handlers run)."""

    async def __call__(
        self, messages: Sequence[Message], call_next: HandleStep
    ) -> list[Handled]: ...


class StoreMiddleware(Protocol):
    """Wraps the storing of a batch of handled changes."""

    async def __call__(
        self, prepared: Sequence[Prepared], call_next: StoreStep
    ) -> list[Handled]: ...


class MessageBus:
    def __init__(
        self,
        handlers: Mapping[type[Command], Handler],
        executor: EventStoreExecutor,
        *,
        middleware: Sequence[Middleware],
        store_middleware: Sequence[StoreMiddleware],
        store: StoreStep,
    ) -> None:
        self._handlers = handlers
        self._executor = executor
        self._store: StoreStep = store
        for store_layer in reversed(store_middleware):
            self._store = _around_store(store_layer, self._store)
        self._handle: HandleStep = self._handle_and_store
        for layer in reversed(middleware):
            self._handle = _around(layer, self._handle)

    async def handle(self, message: Message) -> CommandResult:
        """Handles one message; its failure is raised."""
        [outcome] = await self.handle_batch([message])
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    async def handle_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        """Each message's result, or the error that failed it alone, in order."""
        outcomes: list[Outcome] = []
        for outcome in await self._handle(messages):
            if isinstance(outcome, Conflicted):
                raise RuntimeError("a conflicted change left the bus without a retry")
            outcomes.append(outcome)
        return outcomes

    async def _handle_and_store(self, messages: Sequence[Message]) -> list[Handled]:
        changes = await self._executor.run(self._run_handlers, messages)
        prepared = [
            Prepared(message, change)
            for message, change in zip(messages, changes, strict=True)
            if isinstance(change, Change)
        ]
        stored = iter(await self._store(prepared) if prepared else [])
        return [change if isinstance(change, DomainError) else next(stored) for change in changes]

    def _run_handlers(self, messages: Sequence[Message]) -> list[Change[Any] | DomainError]:
        changes: list[Change[Any] | DomainError] = []
        for message in messages:
            handler = self._handlers[type(message.command)]
            token = correlation_id_var.set(message.correlation_id)
            try:
                changes.append(handler(message.command))
            except DomainError as error:
                changes.append(error)
            finally:
                correlation_id_var.reset(token)
        return changes


def _around(layer: Middleware, call_next: HandleStep) -> HandleStep:
    async def step(messages: Sequence[Message]) -> list[Handled]:
        return await layer(messages, call_next)

    return step


def _around_store(layer: StoreMiddleware, call_next: StoreStep) -> StoreStep:
    async def step(prepared: Sequence[Prepared]) -> list[Handled]:
        return await layer(prepared, call_next)

    return step


class ConflictRetries:
    """A change that lost an optimistic race is handled again (fresh state), alone."""

    def __init__(self, retries: int = CONFLICT_RETRIES) -> None:
        self._retries = retries

    async def __call__(self, messages: Sequence[Message], call_next: HandleStep) -> list[Handled]:
        outcomes = await call_next(messages)
        for index, message in enumerate(messages):
            retries = 0
            while isinstance(outcomes[index], Conflicted) and retries < self._retries:
                logger.info("write conflicted with a concurrent one; retrying")
                [outcomes[index]] = await call_next([message])
                retries += 1
            if isinstance(outcomes[index], Conflicted):
                outcomes[index] = ConflictError(
                    "the resource kept changing concurrently; try again",
                    error_type="concurrent_modification",
                )
        return outcomes


class IdempotentReplays:
    """The same Idempotency-Key answers the same way (its answer is stored with the change)."""

    def __init__(self, idempotency: Idempotency, executor: EventStoreExecutor) -> None:
        self._idempotency = idempotency
        self._executor = executor

    async def __call__(self, messages: Sequence[Message], call_next: HandleStep) -> list[Handled]:
        claims = [message.idempotency for message in messages if message.idempotency is not None]
        replays = await self._executor.run(self._idempotency.replay_many, claims) if claims else {}
        outcomes: list[Handled | None] = [None] * len(messages)
        fresh: list[int] = []
        repeated: list[int] = []
        claimed: set[tuple[str, str]] = set()
        for index, message in enumerate(messages):
            claim = message.idempotency
            if claim is not None:
                if (claim.scope, claim.key) in claimed:
                    repeated.append(index)
                    continue
                claimed.add((claim.scope, claim.key))
                replayed = replays.get(claim)
                if replayed is not None:
                    outcomes[index] = replayed
                    continue
            fresh.append(index)
        if fresh:
            handled = await call_next([messages[index] for index in fresh])
            for index, outcome in zip(fresh, handled, strict=True):
                claim = messages[index].idempotency
                if isinstance(outcome, Conflicted) and claim is not None:
                    # The race may have been lost to this very request (a retry of it).
                    outcome = await self._replay(claim) or outcome
                outcomes[index] = outcome
        # A key claimed earlier in the batch: answered once that claim is stored.
        for index in repeated:
            [outcomes[index]] = await self([messages[index]], call_next)
        return [outcome for outcome in outcomes if outcome is not None]

    async def _replay(self, claim: IdempotencyClaim) -> Outcome | None:
        try:
            return await self._executor.run(self._idempotency.replay, claim)
        except DomainError as error:
            return error


class AskInventory:
    """Stores a lower quantity or a ticket type's removal only once inventory agrees: it
    counts what is sold, held and offered under the event's lock and applies a lower
    quantity at once, so no hold can take the tickets between its answer and our commit.
    A crash between the two leaves inventory with the lower quantity: the safe side."""

    def __init__(self, inventory: InventoryTicketTypes) -> None:
        self._inventory = inventory

    async def __call__(self, prepared: Sequence[Prepared], call_next: StoreStep) -> list[Handled]:
        refused: dict[int, DomainError] = {}
        for position, item in enumerate(prepared):
            question = item.change.question
            if question is None:
                continue
            try:
                answer = await self._inventory.change_ticket_type(question)
            except InventoryUnavailable as error:
                logger.warning("inventory did not answer a ticket type change: %s", error)
                refused[position] = DependencyUnavailableError(
                    "inventory cannot answer now; nothing was changed, try again",
                    retry_after_seconds=error.retry_after_seconds,
                )
                continue
            if answer.outcome == "refused":
                refused[position] = ticket_type_change_refusal(answer)
        going = [item for position, item in enumerate(prepared) if position not in refused]
        stored = iter(await call_next(going) if going else [])
        return [
            refused[position] if position in refused else next(stored)
            for position in range(len(prepared))
        ]


def ticket_type_change_refusal(answer: TicketTypeChangeAnswer) -> ConflictError:
    """Inventory's refusal with the figures it decided by."""
    taken = answer.taken
    figures = {
        "quantity": taken.quantity,
        "sold": taken.sold,
        "held": taken.held,
        "offered": taken.offered,
    }
    if answer.reason == "ticket_type_in_use":
        return ConflictError(
            "the ticket type cannot be removed: tickets of it were sold, or are held or "
            f"offered ({taken.sold} sold, {taken.held} held, {taken.offered} offered)",
            error_type="ticket_type_in_use",
            extra=figures,
        )
    return ConflictError(
        f"the quantity cannot go below the {taken.sold + taken.held + taken.offered} tickets "
        f"taken ({taken.sold} sold, {taken.held} held, {taken.offered} offered)",
        error_type="quantity_below_taken",
        extra=figures,
    )


class HoldTickets:
    """Has inventory hold the tickets of the new bookings in a batch, in one call; the held
    ones owe their payment from then on, the refused ones are not stored."""

    def __init__(self, inventory: InventoryHolds) -> None:
        self._inventory = inventory

    async def __call__(self, prepared: Sequence[Prepared], call_next: StoreStep) -> list[Handled]:
        refused = await self._hold([item.change for item in prepared])
        going = [item for position, item in enumerate(prepared) if position not in refused]
        stored = iter(await call_next(going) if going else [])
        return [
            refused[position] if position in refused else next(stored)
            for position in range(len(prepared))
        ]

    async def _hold(self, changes: Sequence[Change[Any]]) -> dict[int, DomainError]:
        """The refused changes' errors by their place in `changes`."""
        asking = [
            (position, change) for position, change in enumerate(changes) if change.hold is not None
        ]
        if not asking:
            return {}
        try:
            answers = await self._inventory.hold(
                [change.hold for _, change in asking if change.hold is not None]
            )
        except InventoryUnavailable as error:
            logger.warning("inventory did not answer a hold call: %s", error)
            unavailable = DependencyUnavailableError(
                "inventory cannot answer now; nothing was booked, try again",
                retry_after_seconds=error.retry_after_seconds,
            )
            return {position: unavailable for position, _ in asking}
        refused: dict[int, DomainError] = {}
        for (position, change), answer in zip(asking, answers, strict=True):
            booking = change.primary
            assert isinstance(booking, Booking)
            if answer.held:
                booking.tickets_reserved()
            else:
                refused[position] = refusal_error(answer)
        return refused


class GroupCommit:
    """Stores each change with the answer its entrypoint gives (kept with its key), in the
    group commit's next transaction."""

    def __init__(
        self, group_commit: GroupCommitter, *, after_commit: Callable[[], None] = lambda: None
    ) -> None:
        self._group_commit = group_commit
        self._after_commit = after_commit

    async def __call__(self, prepared: Sequence[Prepared]) -> list[Handled]:
        writes = [
            PendingWrite(
                aggregates=item.change.aggregates,
                answer=item.message.answer(item.change.result),
                correlation_id=item.message.correlation_id,
                idempotency=item.message.idempotency,
                traceparent=item.message.traceparent,
            )
            for item in prepared
        ]
        committed = await self._group_commit.submit_many(writes)
        self._after_commit()
        outcomes: list[Handled] = []
        for result in committed:
            if isinstance(result, CommandResult):
                outcomes.append(result)
            elif isinstance(result, BookingDisowned):
                outcomes.append(hold_released_error())
            elif isinstance(result, IntegrityError):
                outcomes.append(CONFLICTED)
            else:
                raise result
        return outcomes


def refusal_error(answer: HoldAnswer) -> DomainError:
    """Inventory's refusal as the error the caller gets (409 with its reason, and what the
    refusal says beside it: inventory decided by those, so they explain its answer)."""
    reason = answer.refusal or "sold_out"
    details = dict(answer.refusal_details)
    if reason == "sold_out":
        return SoldOutError("the ticket type is sold out")
    if reason == "not_enough_tickets":
        return InsufficientCapacityError("fewer tickets are left than this booking asks for")
    if reason == "hold_released":
        return hold_released_error()
    if reason == "not_on_sale":
        return ConflictError(
            "the ticket type is not on sale now (see sale_starts_at and sale_ends_at)",
            error_type=reason,
            extra=details,
        )
    if reason == "sales_closed":
        return ConflictError(
            "the organiser has closed the sales of this ticket type", error_type=reason
        )
    if reason == "offer_not_valid":
        return ConflictError(
            "this waitlist offer cannot be booked: it is not yours, has ended, or is for "
            "another ticket type or quantity",
            error_type=reason,
            extra=details,
        )
    if reason == "purchase_limit_reached":
        return ConflictError(
            f"this booking would take the account past the {_scope(details)} limit of "
            f"{details.get('max_tickets_per_account')} tickets per account "
            f"({details.get('tickets_held_or_bought')} already held or bought)",
            error_type=reason,
            extra=details,
        )
    return ConflictError(f"inventory refused the hold: {reason}", error_type=reason, extra=details)


def _scope(details: Mapping[str, Any]) -> str:
    return "ticket type's" if details.get("limit_scope") == "ticket_type" else "event's"


def hold_released_error() -> ConflictError:
    return ConflictError(
        "this booking's hold was released before it was stored; send the request again "
        "with a new Idempotency-Key",
        error_type="hold_released",
    )
