"""Who may do what: entry decides from the verified caller (the gateway only requires a
signed-in person on these routes)."""

from __future__ import annotations

from uuid import UUID

from entry.application.ports import BookingInfo, EventInfo, TicketStore
from service_kit.errors import ForbiddenError, NotFoundError
from service_kit.internal_auth import Caller
from ticketing_contracts.internal_http import NOTIFICATIONS

ORGANISERS = frozenset({"admin", "manager"})


def is_person(caller: Caller) -> bool:
    return caller.id is not None and caller.role in ("admin", "manager", "user")


def booking_not_found(booking_id: UUID) -> NotFoundError:
    return NotFoundError(f"Booking {booking_id} not found", error_type="booking_not_found")


def check_sees_booking(caller: Caller, booking: BookingInfo) -> None:
    """The booking's owner and admins; anyone else is told it does not exist."""
    if caller.is_admin or (is_person(caller) and caller.id == booking.owner_id):
        return
    raise booking_not_found(booking.booking_id)


def check_may_print(caller: Caller, booking: BookingInfo) -> None:
    """The PDF: as the ticket list, and the notifications service (it attaches it)."""
    if caller.is_service(NOTIFICATIONS):
        return
    if caller.role == "service":
        raise ForbiddenError(
            f"{caller.id}'s token is not accepted for tickets", error_type="forbidden"
        )
    check_sees_booking(caller, booking)


def check_admin(caller: Caller, action: str) -> None:
    if not caller.is_admin:
        raise ForbiddenError(f"only admins may {action}", error_type="forbidden")


def check_organiser(caller: Caller, action: str) -> None:
    if caller.role not in ORGANISERS:
        raise ForbiddenError(f"only managers and admins may {action}", error_type="forbidden")


async def known_event(store: TicketStore, event_id: UUID) -> EventInfo:
    event = await store.event(event_id)
    if event is None:
        raise NotFoundError(f"Event {event_id} not found", error_type="event_not_found")
    return event


async def check_door_staff(store: TicketStore, caller: Caller, event_id: UUID) -> None:
    """Managers and admins, and the accounts assigned to this event's doors."""
    if caller.role in ORGANISERS:
        return
    if (
        is_person(caller)
        and caller.id is not None
        and await store.is_door_staff(event_id, caller.id)
    ):
        return
    raise ForbiddenError(
        f"the caller is not door staff of event {event_id}", error_type="not_door_staff"
    )
