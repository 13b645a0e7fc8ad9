from __future__ import annotations

from pathlib import Path

from notifications.entrypoints.asyncapi import asyncapi_document
from service_kit.asyncapi_commands import asyncapi_text, channel_addresses

CHECKED_IN = Path(__file__).parents[2] / "asyncapi.json"
REGENERATE = "python -m notifications asyncapi --output services/notifications/asyncapi.json"


def test_the_checked_in_asyncapi_document_matches_the_code() -> None:
    generated = asyncapi_text(asyncapi_document())
    assert generated == CHECKED_IN.read_text(encoding="utf-8"), f"regenerate: {REGENERATE}"


def test_the_document_names_what_the_service_consumes_and_publishes() -> None:
    document = asyncapi_document()
    assert set(channel_addresses(document, "receive")) == {
        "ticketing.booking.v1",
        "ticketing.catalog.v1",
        "ticketing.inventory.v1",
    }
    assert set(channel_addresses(document, "send")) == {"ticketing.dead-letter.v1"}
