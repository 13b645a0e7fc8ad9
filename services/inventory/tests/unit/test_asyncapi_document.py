"""The checked-in AsyncAPI document is the one the code generates."""

from __future__ import annotations

from pathlib import Path

from inventory.entrypoints.asyncapi import asyncapi_document
from service_kit.asyncapi_commands import asyncapi_text

CHECKED_IN = Path(__file__).parents[2] / "asyncapi.json"


def test_the_checked_in_asyncapi_document_matches_the_code() -> None:
    assert asyncapi_text(asyncapi_document()) == CHECKED_IN.read_text(encoding="utf-8"), (
        "the subscribers or publishers changed: regenerate with "
        "python -m inventory asyncapi --output services/inventory/asyncapi.json"
    )


def test_the_document_names_what_the_service_consumes_and_publishes() -> None:
    document = asyncapi_document()
    receives = {
        document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
        for operation in document["operations"].values()
        if operation["action"] == "receive"
    }
    sends = {
        document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
        for operation in document["operations"].values()
        if operation["action"] == "send"
    }
    assert "ticketing.booking.v1" in receives
    assert "ticketing.inventory.v1" in sends
