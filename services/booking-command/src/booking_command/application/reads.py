"""What the write side answers from its own store (the read models serve clients)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from booking_command.application.app import BookingCommandApplication
from booking_command.application.executor import EventStoreExecutor
from booking_command.domain.booking import Booking


class WriteSideReads:
    def __init__(self, app: BookingCommandApplication, executor: EventStoreExecutor) -> None:
        self._app = app
        self._executor = executor

    async def booking(
        self, booking_id: UUID, *, caller_id: str, is_admin: bool
    ) -> tuple[Booking, int]:
        """The booking, if the caller may see it, and the position the read models have it at."""
        booking = await self._executor.run(
            lambda: self._app.bookings.get_booking(
                booking_id, caller_id=caller_id, is_admin=is_admin
            )
        )
        position = await self._executor.run(self._app.published_position, booking.id)
        return booking, position

    async def known_bookings(self, booking_ids: Sequence[UUID]) -> set[UUID]:
        """The ids among these that are stored bookings."""
        return await self._executor.run(self._app.booking_recorder.known_bookings, booking_ids)
