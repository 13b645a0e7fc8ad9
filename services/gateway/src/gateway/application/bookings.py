"""Bookings: requests and cancellations to booking-command, reads from query-projection."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway.application.availability import AvailabilityCache
from gateway.application.booking_batches import BookingBatcher
from gateway.application.catalog import Page
from gateway.application.ports import Downstream, DownstreamResponse
from gateway.application.read_your_writes import CommandOutcome, ReadYourWrites
from gateway.application.waiting_room import WaitingRooms
from gateway.domain.permissions import Permission, is_allowed, may_see_booking
from gateway.domain.users import Caller
from service_kit.errors import (
    DependencyUnavailableError,
    DomainError,
    ForbiddenError,
    InsufficientCapacityError,
    NotFoundError,
    SoldOutError,
)
from ticketing_contracts.commands import CancelBooking, RequestBooking
from ticketing_contracts.events.booking import SETTLED_STATUSES

BOOKINGS = "/internal/v1/bookings"


@dataclass(frozen=True)
class BookingFilters:
    customer_email: str | None = None
    event_id: uuid.UUID | None = None
    status: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class StatusChange:
    sequence: int
    booking_id: str
    status: str
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.booking_id, "status": self.status, "reason": self.reason}


def sold_out(ticket_type_id: uuid.UUID) -> SoldOutError:
    return SoldOutError(f"Ticket type {ticket_type_id} is sold out")


def _status_of(body: Any) -> tuple[str, str | None]:
    if not isinstance(body, dict):
        return "UNKNOWN", None
    reason = body.get("reason", body.get("rejection_reason"))
    return str(body.get("status", "UNKNOWN")), None if reason is None else str(reason)


class BookingService:
    def __init__(
        self,
        commands: Downstream,
        queries: Downstream,
        read_your_writes: ReadYourWrites,
        availability: AvailabilityCache,
        batcher: BookingBatcher,
        waiting_rooms: WaitingRooms,
    ) -> None:
        self._commands = commands
        self._batcher = batcher
        self._waiting_rooms = waiting_rooms
        self._queries = queries
        self._ryw = read_your_writes
        self._availability = availability

    async def request_booking(
        self,
        caller: Caller,
        command: RequestBooking,
        idempotency_key: str | None,
        admission_pass: str | None = None,
    ) -> CommandOutcome:
        """Refused at once when the stock says no (no pass attempt spent on it); then, while
        the event's waiting room is on, the caller's pass must admit it. A booking that takes
        up a waitlist offer is neither: the offer's tickets are held for the caller outside
        the stock general sale sees, the room's queue was for general sale, and inventory
        refuses an offer that is not the caller's (`offer_not_valid`)."""
        if command.offer_id is not None:
            return await self._forward(caller, command, idempotency_key)
        available = await self._availability.available(command.event_id, command.ticket_type_id)
        if available is not None and available <= 0:
            raise sold_out(command.ticket_type_id)
        if available is not None and available < command.quantity:
            raise InsufficientCapacityError(
                f"Only {available} tickets of type {command.ticket_type_id} are left"
            )
        await self._waiting_rooms.check_booking(
            caller, command.event_id, admission_pass, idempotency_key
        )
        return await self._forward(caller, command, idempotency_key)

    async def _forward(
        self, caller: Caller, command: RequestBooking, idempotency_key: str | None
    ) -> CommandOutcome:
        started = time.perf_counter()
        unavailable = False
        try:
            return await self._batcher.request(caller, command, idempotency_key)
        except DependencyUnavailableError:
            unavailable = True
            raise
        finally:
            # What the waiting rooms' admission adapts to.
            self._waiting_rooms.booking_answered(
                time.perf_counter() - started, unavailable=unavailable
            )

    async def known_sold_out(self, event_id: uuid.UUID, ticket_type_id: uuid.UUID) -> bool:
        """Whether the stock already says no; asks nothing of Redis or booking-command, so the
        answer can be given before revocation and rate limits (it changes nothing)."""
        return await self._availability.known_sold_out(event_id, ticket_type_id)

    async def cancel_booking(
        self,
        caller: Caller,
        booking_id: uuid.UUID,
        command: CancelBooking,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        response = await self._commands.request(
            "POST",
            f"{BOOKINGS}/{booking_id}/cancel",
            caller=caller,
            body=command.model_dump_json().encode(),
            idempotency_key=idempotency_key,
        )
        return await self._ryw.record(caller, response)

    async def booking(
        self, caller: Caller, booking_id: uuid.UUID, position_hint: int | None = None
    ) -> DownstreamResponse:
        response = await self._queries.request(
            "GET",
            f"{BOOKINGS}/{booking_id}",
            caller=caller,
            params=await self._ryw.params(caller, position_hint),
        )
        body = response.json()
        owner_id = body.get("owner_id") if isinstance(body, dict) else None
        if not may_see_booking(caller, None if owner_id is None else str(owner_id)):
            raise NotFoundError(f"Booking {booking_id} not found")
        return response

    async def list_bookings(
        self,
        caller: Caller,
        filters: BookingFilters,
        page: Page,
        position_hint: int | None = None,
    ) -> DownstreamResponse:
        sees_all = is_allowed(caller.role, Permission.SEE_ALL_BOOKINGS)
        if not sees_all and (filters.customer_email or filters.owner_id):
            raise ForbiddenError("Only admins may filter bookings by customer or owner")
        params: dict[str, str | int | float | None] = {
            "owner_id": filters.owner_id if sees_all else caller.user_id,
            "customer_email": filters.customer_email,
            "event_id": str(filters.event_id) if filters.event_id else None,
            "status": filters.status,
            "page": page.page,
            "size": page.size,
        }
        return await self._queries.request(
            "GET",
            BOOKINGS,
            caller=caller,
            params=await self._ryw.params(caller, position_hint, params),
        )

    async def status_changes(
        self,
        caller: Caller,
        booking_id: uuid.UUID,
        *,
        first: DownstreamResponse,
        poll_interval_seconds: float,
        max_duration_seconds: float,
    ) -> AsyncIterator[StatusChange]:
        """Each status the booking passes through, until a final one or the time bound."""
        deadline = time.monotonic() + max_duration_seconds
        sequence = 1
        status, reason = _status_of(first.json())
        yield StatusChange(sequence, str(booking_id), status, reason)
        while status not in SETTLED_STATUSES and time.monotonic() < deadline:
            await asyncio.sleep(poll_interval_seconds)
            try:
                response = await self._queries.request(
                    "GET", f"{BOOKINGS}/{booking_id}", caller=caller
                )
            except DomainError:
                continue  # a read model briefly behind or unavailable: try again
            new_status, new_reason = _status_of(response.json())
            if (new_status, new_reason) != (status, reason):
                status, reason = new_status, new_reason
                sequence += 1
                yield StatusChange(sequence, str(booking_id), status, reason)
