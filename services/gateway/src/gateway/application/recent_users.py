"""Accounts read for authenticated requests, kept for at most a second.

Bookings arrive at hundreds per second; re-reading the caller's account for each would put
PostgreSQL on every request's path. A second is the longest a role change or password
change made on another replica goes unnoticed here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from gateway.domain.users import User

MAX_ENTRIES = 100_000


class RecentUsers:
    def __init__(
        self,
        load: Callable[[uuid.UUID], Awaitable[User | None]],
        fresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._fresh = fresh_seconds
        self._clock = clock
        self._entries: dict[uuid.UUID, tuple[float, User | None]] = {}

    async def get(self, user_id: uuid.UUID) -> User | None:
        now = self._clock()
        entry = self._entries.get(user_id)
        if entry is not None and now - entry[0] < self._fresh:
            return entry[1]
        user = await self._load(user_id)
        if self._fresh > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {
                    key: value
                    for key, value in self._entries.items()
                    if now - value[0] < self._fresh
                }
            self._entries[user_id] = (now, user)
        return user

    def forget(self, user_id: uuid.UUID) -> None:
        self._entries.pop(user_id, None)
