"""Routes booking-command's reconciliation calls after a restore of its event store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from inventory.adapters.booking_command import BookingCommandUnavailable
from inventory.adapters.postgres_repository import InventoryQueries
from inventory.application.release_not_stored import ReleaseBookingsNotStored
from service_kit.errors import DependencyUnavailableError, ForbiddenError, NotFoundError
from service_kit.http_errors import error_responses
from service_kit.internal_auth import Caller, VerifiedCaller
from ticketing_contracts.internal_http import BOOKING_COMMAND
from ticketing_contracts.reconciliation import (
    EventIds,
    InventoryBooking,
    InventoryEvent,
    ReleaseBookings,
    Releases,
    TicketTypeCount,
)

TAG = "reconciliation"
TAG_DESCRIPTION = (
    "booking-command's reconciliation after a restore of its event store: what inventory "
    "holds per event, and the release of bookings the event store does not hold"
)


async def booking_command_caller(caller: VerifiedCaller) -> Caller:
    """booking-command's own token: its reconciliation is the one that asks."""
    if not caller.is_service(BOOKING_COMMAND):
        raise ForbiddenError("only booking-command's own token may reconcile inventory")
    return caller


BookingCommand = Annotated[Caller, Depends(booking_command_caller)]


def reconciliation_router(
    queries: Callable[[], InventoryQueries],
    release_not_stored: Callable[[], ReleaseBookingsNotStored | None],
    *,
    after_commit: Callable[[], None] = lambda: None,
) -> APIRouter:
    router = APIRouter(prefix="/internal/v1/reconciliation", tags=[TAG])

    @router.get(
        "/events",
        response_model=EventIds,
        summary="Every event inventory knows",
        responses=error_responses(401, 403, 503),
    )
    async def events(_: BookingCommand) -> EventIds:
        return EventIds(event_ids=await queries().event_ids())

    @router.get(
        "/events/{event_id}",
        response_model=InventoryEvent,
        summary="An event's stock and every booking inventory decided for it",
        responses=error_responses(401, 403, 404, 503),
    )
    async def event(event_id: UUID, _: BookingCommand) -> InventoryEvent:
        found = await queries().show_with_bookings(event_id)
        if found is None:
            raise NotFoundError(f"Event {event_id} is not known to inventory")
        show, bookings = found
        return InventoryEvent(
            event_id=show.event_id,
            status=show.status.value,
            ticket_types=[
                TicketTypeCount(
                    ticket_type_id=stock.ticket_type_id,
                    quantity=stock.quantity,
                    reserved=stock.reserved,
                    sold=stock.sold,
                )
                for stock in sorted(show.ticket_types.values(), key=lambda s: s.ticket_type_id)
            ],
            bookings=[
                InventoryBooking(
                    booking_id=booking.booking_id,
                    ticket_type_id=booking.ticket_type_id,
                    quantity=booking.quantity,
                    state=booking.state.value,
                )
                for booking in bookings
            ],
        )

    @router.post(
        "/releases",
        response_model=Releases,
        summary="Release the tickets of bookings booking-command's event store does not hold",
        description=(
            "Asks booking-command which of these bookings it stores (POST "
            "/internal/v1/bookings/known: from then on it never stores the others) and gives "
            "back the tickets, held or sold, of the others, in one transaction with one "
            "inventory.stock_changed per ticket type. A released booking's hold is refused "
            "`hold_released` from then on. 503 when booking-command does not answer: nothing "
            "is released. Only booking-command's own token: 403 for anyone else's."
        ),
        responses=error_responses(401, 403, 422, 503),
    )
    async def releases(body: ReleaseBookings, _: BookingCommand) -> Releases:
        release = release_not_stored()
        if release is None:
            raise DependencyUnavailableError("inventory is starting", retry_after_seconds=5)
        try:
            outcome = await release(body.booking_ids)
        except BookingCommandUnavailable as error:
            raise DependencyUnavailableError(
                f"booking-command could not say which bookings it stores: {error}",
                retry_after_seconds=5,
            ) from error
        if outcome.released:
            after_commit()
        return Releases(
            released=outcome.released,
            stored=outcome.stored,
            taking_no_tickets=outcome.taking_no_tickets,
        )

    return router
