"""Field types with the platform's validation rules, shared by commands and events.

Every field of a published message is bounded (length, characters, range), so a
hostile or broken message is refused at decode time instead of failing in PostgreSQL.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
)

_NAME_PUNCTUATION = frozenset(" -'\u2019.")
# Control characters (NUL included) and lone surrogates: PostgreSQL text and UTF-8 refuse them.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cs"})
_SAFE_ID_PATTERN = r"^[A-Za-z0-9._:@/-]+$"

MAX_BIGINT = 2**63 - 1
MAX_INTEGER = 2**31 - 1
MAX_ID_LENGTH = 128
MAX_EMAIL_LENGTH = 254


def _trim(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _person_name(value: str) -> str:
    for character in value:
        if character in _NAME_PUNCTUATION:
            continue
        category = unicodedata.category(character)
        if not (category.startswith("L") or category.startswith("M")):
            raise ValueError(
                f"may contain only letters, spaces, hyphens, apostrophes and periods "
                f"(found {character!r})"
            )
    return value


def _lower(value: str) -> str:
    return value.lower()


def _printable(value: str) -> str:
    if any(unicodedata.category(character) in _UNPRINTABLE_CATEGORIES for character in value):
        raise ValueError("must not contain control characters")
    return value


Title = Annotated[
    str,
    BeforeValidator(_trim),
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_printable),
]
Address = Annotated[
    str,
    BeforeValidator(_trim),
    StringConstraints(min_length=1, max_length=500),
    AfterValidator(_printable),
]
Description = Annotated[
    str, BeforeValidator(_trim), StringConstraints(max_length=5000), AfterValidator(_printable)
]
PersonName = Annotated[
    str,
    BeforeValidator(_trim),
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_person_name),
]
CustomerEmail = Annotated[
    EmailStr, StringConstraints(max_length=MAX_EMAIL_LENGTH), AfterValidator(_lower)
]
PublishedEmail = Annotated[
    str,
    StringConstraints(
        min_length=3,
        max_length=MAX_EMAIL_LENGTH,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$",
    ),
    AfterValidator(_lower),
]
"""An address the write side validated as a `CustomerEmail`; consumers of the event check only
its shape, which keeps a full address validation out of every message decode."""
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Capacity = Annotated[int, Field(gt=0, le=1_000_000)]
TicketQuantity = Annotated[int, Field(ge=1, le=10)]
PurchaseLimit = Annotated[int, Field(ge=1, le=1_000_000)]
# A hold or an offer of tickets: at least a minute, at most a week.
HoldMinutes = Annotated[int, Field(ge=1, le=10_080)]
"""The most tickets one account may hold or buy of an event, or of one of its ticket types."""

MAX_TICKETS_PER_BOOKING = 10

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=_SAFE_ID_PATTERN),
]
"""An id from outside the platform's UUIDs: correlation ids, user ids, subjects."""
ServiceName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=_SAFE_ID_PATTERN)
]
EventTypeName = Identifier
SchemaVersion = Annotated[int, Field(ge=1, le=1000)]
# What a payment provider's client-side tokenisation returns (e.g. Stripe's `tok_...`,
# `pm_...`): an opaque reference, never card data; it is neither logged nor published.
PaymentToken = Annotated[
    str,
    StringConstraints(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_-]+$"),
]
# A payment provider's id of a payment or refund (`pi_...`, `re_...`).
ProviderReference = Identifier
LogPosition = Annotated[int, Field(ge=0, le=MAX_BIGINT)]
"""A position or version stored as a PostgreSQL bigint."""
StockCount = Annotated[int, Field(ge=0, le=MAX_INTEGER)]
Timestamp = AwareDatetime
