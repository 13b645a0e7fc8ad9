"""entry refuses to start without a strong ticket signing secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from entry.settings import EntrySettings
from service_kit.internal_auth import generate_key_pair

PUBLIC_KEY = generate_key_pair()[1]


def settings(**values: object) -> EntrySettings:
    return EntrySettings(_env_file=None, internal_token_public_key=PUBLIC_KEY, **values)


def test_a_random_secret_of_32_bytes_or_more_is_accepted() -> None:
    secret = "Vq8Zt3Lm1XcR7nB2wK9pJ4hG6fD0sA5y"
    assert settings(ticket_signing_secret=secret).ticket_signing_secret.get_secret_value() == secret


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({}, "ticket_signing_secret"),
        ({"ticket_signing_secret": "Vq8Zt3Lm1XcR7nB2"}, "at least 32 bytes"),
        ({"ticket_signing_secret": "changeme-changeme-changeme-changeme"}, "placeholder"),
    ],
    ids=["missing", "short", "placeholder"],
)
def test_a_missing_short_or_placeholder_secret_stops_the_service(
    values: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        settings(**values)
