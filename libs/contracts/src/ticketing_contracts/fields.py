"""Field types with the platform's validation rules, shared by commands and events."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, StringConstraints

_NAME_PUNCTUATION = frozenset(" -'\u2019.")


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
    if any(unicodedata.category(character) == "Cc" for character in value):
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
CustomerEmail = Annotated[EmailStr, AfterValidator(_lower)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Capacity = Annotated[int, Field(gt=0, le=1_000_000)]
TicketQuantity = Annotated[int, Field(ge=1, le=10)]

MAX_TICKETS_PER_BOOKING = 10
