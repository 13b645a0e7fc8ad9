"""Bounds on open status streams: each polls query-projection while it is open."""

from __future__ import annotations

from service_kit.errors import DependencyUnavailableError, RateLimitedError


class StreamSlots:
    """Open streams per user and in this process; over a bound the stream is refused."""

    def __init__(self, per_user: int, per_pod: int) -> None:
        self._per_user = per_user
        self._per_pod = per_pod
        self._by_user: dict[str, int] = {}
        self._open = 0

    @property
    def open(self) -> int:
        return self._open

    def acquire(self, user_id: str) -> None:
        if self._by_user.get(user_id, 0) >= self._per_user:
            raise RateLimitedError(
                f"At most {self._per_user} open status streams per user; close one first",
                retry_after_seconds=5,
            )
        if self._open >= self._per_pod:
            raise DependencyUnavailableError(
                "Too many open status streams on this server; poll the booking instead",
                retry_after_seconds=5,
            )
        self._by_user[user_id] = self._by_user.get(user_id, 0) + 1
        self._open += 1

    def release(self, user_id: str) -> None:
        remaining = self._by_user.get(user_id, 0) - 1
        if remaining > 0:
            self._by_user[user_id] = remaining
        else:
            self._by_user.pop(user_id, None)
        self._open = max(self._open - 1, 0)
