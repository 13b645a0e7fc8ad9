"""When a mail that could not go yet is tried again, and when it is given up."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    """Tried `max_attempts` times, or refused for good: an operator looks and retries."""
    SUPERSEDED = "superseded"
    """A confirmation whose tickets were all voided before it could go: the booking's
    cancellation or refund notice says what happened instead."""


def next_attempt_at(
    now: datetime, attempts: int, *, initial_seconds: float, max_seconds: float
) -> datetime:
    """Exponential backoff from the number of attempts made so far (1 after the first)."""
    delay = min(initial_seconds * 2 ** max(attempts - 1, 0), max_seconds)
    return now + timedelta(seconds=delay)


def gives_up(attempts: int, max_attempts: int) -> bool:
    return attempts >= max_attempts


def message_id(fact_id: str, domain: str) -> str:
    """The same for every attempt of one notice: a copy sent again after a crash between
    the relay's OK and our commit carries the Message-ID of the first."""
    return f"<{fact_id}@notifications.{domain}>"
