"""Value rules shared by the aggregates; each returns the normalised value or raises."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal

from service_kit.errors import InvalidInputError

MAX_TITLE_LENGTH = 200
MAX_ADDRESS_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 5000
MAX_TICKETS_PER_BOOKING = 10
MAX_CAPACITY = 1_000_000
MAX_HOLD_MINUTES = 10_080  # a week
_NAME_PUNCTUATION = frozenset(" -'\u2019.")
_EMAIL = re.compile(r"^[^@\s<>\"&]+@[^@\s<>\"&]+\.[^@\s<>\"&]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PAYMENT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{3,255}$")


def _printable(value: str, field: str) -> str:
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise InvalidInputError(f"{field} must not contain control characters")
    return value


def text(value: str, field: str, *, max_length: int, required: bool = True) -> str:
    trimmed = _printable(value.strip(), field)
    if required and not trimmed:
        raise InvalidInputError(f"{field} must not be empty")
    if len(trimmed) > max_length:
        raise InvalidInputError(f"{field} must be at most {max_length} characters")
    return trimmed


def title(value: str, field: str = "name") -> str:
    return text(value, field, max_length=MAX_TITLE_LENGTH)


def positive_count(value: int, field: str, *, maximum: int = MAX_CAPACITY) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
        raise InvalidInputError(f"{field} must be a whole number from 1 to {maximum}")
    return value


def price(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InvalidInputError("price must be a number of at least 0")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidInputError("price must have at most two decimal places")
    return value.quantize(Decimal("0.01"))


def currency(value: str) -> str:
    if not _CURRENCY.match(value):
        raise InvalidInputError("currency must be a three-letter ISO 4217 code")
    return value


def person_name(value: str) -> str:
    name = text(value, "customer_name", max_length=MAX_TITLE_LENGTH)
    for character in name:
        if character in _NAME_PUNCTUATION:
            continue
        if not unicodedata.category(character).startswith(("L", "M")):
            raise InvalidInputError(
                "customer_name may contain only letters, spaces, hyphens, apostrophes "
                f"and periods (found {character!r})"
            )
    return name


def email(value: str) -> str:
    address = value.strip()
    if len(address) > 320 or not _EMAIL.match(address):
        raise InvalidInputError("customer_email is not a valid email address")
    return address.lower()


def aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(f"{field} must carry a UTC offset")
    return moment


def in_future(moment: datetime, now: datetime, field: str = "starts_at") -> datetime:
    if aware(moment, field) <= now:
        raise InvalidInputError(f"{field} must be in the future")
    return moment


def max_tickets_per_account(value: int | None) -> int | None:
    if value is None:
        return None
    return positive_count(value, "max_tickets_per_account")


def minutes(value: int | None, field: str) -> int | None:
    """A hold or an offer's window in minutes (None: the service's default)."""
    if value is None:
        return None
    return positive_count(value, field, maximum=MAX_HOLD_MINUTES)


def sale_window(
    starts_at: datetime | None, ends_at: datetime | None, *, of: str = "the sale"
) -> tuple[datetime | None, datetime | None]:
    """Bounds of a sale window (None: unbounded); the end must come after the start."""
    if starts_at is not None:
        aware(starts_at, "sale_starts_at")
    if ends_at is not None:
        aware(ends_at, "sale_ends_at")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidInputError(
            f"{of} would end ({ends_at.isoformat()}) before it starts "
            f"({starts_at.isoformat()}): sale_ends_at must be after sale_starts_at"
        )
    return starts_at, ends_at


def payment_token(value: str) -> str:
    """A payment provider's token: bounded, and never echoed in the error."""
    if not _PAYMENT_TOKEN.match(value):
        raise InvalidInputError("payment_token must be 3 to 255 letters, digits, '_' or '-'")
    return value
