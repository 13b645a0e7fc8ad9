"""Runs the service's handlers the way the message bus does, without the bus: a command's
change, answered with the view of its result, committed by the application."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from booking_command.application.app import BookingCommandApplication
from booking_command.application.catalog import TicketTypeAdded
from booking_command.application.commands import Command
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.handlers import command_handlers
from booking_command.application.message_bus import (
    ConflictRetries,
    GroupCommit,
    HoldTickets,
    IdempotentReplays,
    Message,
    MessageBus,
)
from booking_command.application.ports import InventoryHolds
from booking_command.application.results import (
    Answer,
    Change,
    CommandResult,
    IdempotencyClaim,
    PendingWrite,
)
from booking_command.application.views import (
    booking_view,
    event_view,
    ticket_type_view,
    venue_view,
)
from booking_command.domain.booking import Booking
from booking_command.domain.catalog_event import Event
from booking_command.domain.venue import Venue
from service_kit.request_context import current_correlation_id, new_id
from service_kit.tracing import current_traceparent


def view_of(result: Any) -> dict[str, Any]:
    if isinstance(result, Venue):
        return venue_view(result)
    if isinstance(result, Event):
        return event_view(result)
    if isinstance(result, Booking):
        return booking_view(result)
    assert isinstance(result, TicketTypeAdded)
    return {
        **event_view(result.event),
        "ticket_type": ticket_type_view(result.event, result.ticket_type),
    }


def handle(app: BookingCommandApplication, command: Command) -> Change[Any]:
    """The command's change (nothing stored), or the handler's error."""
    return command_handlers(app)[type(command)](command)


def prepare(
    app: BookingCommandApplication, command: Command, status_code: int = 200
) -> PendingWrite:
    """The command's change as the bus stores it, in the current request's flow."""
    change = handle(app, command)
    return PendingWrite(
        aggregates=change.aggregates,
        answer=Answer(status_code, view_of(change.result)),
        correlation_id=current_correlation_id() or new_id(),
        traceparent=current_traceparent(),
    )


def store(app: BookingCommandApplication, commands: Sequence[Command]) -> list[CommandResult]:
    """The commands' changes, stored in one transaction."""
    return app.commit([prepare(app, command) for command in commands])


def answered(status_code: int) -> Callable[[Any], Answer]:
    """An entrypoint's answer: `status_code` and the view of the result."""
    return lambda result: Answer(status_code, view_of(result))


def message(
    command: Command,
    claim: IdempotencyClaim | None = None,
    *,
    correlation_id: str | None = None,
    status_code: int = 200,
) -> Message:
    if correlation_id is None:
        return Message(command, answered(status_code), claim)
    return Message(command, answered(status_code), claim, correlation_id)


def message_bus(
    app: BookingCommandApplication,
    executor: EventStoreExecutor,
    group_commit: GroupCommitter,
    inventory: InventoryHolds,
) -> MessageBus:
    """The bus as bootstrap builds it."""
    return MessageBus(
        command_handlers(app),
        executor,
        middleware=[ConflictRetries(), IdempotentReplays(app.idempotency, executor)],
        store_middleware=[HoldTickets(inventory)],
        store=GroupCommit(group_commit),
    )
