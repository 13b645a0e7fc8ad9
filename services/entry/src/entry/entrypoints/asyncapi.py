"""entry's AsyncAPI document, from the same wiring the service runs."""

from __future__ import annotations

from typing import Any

from entry.bootstrap import Entry
from entry.settings import EntrySettings
from service_kit.asyncapi_commands import asyncapi_document as document_of
from service_kit.internal_auth import generate_key_pair

# The document never checks a token nor signs a ticket; settings just need valid values.
UNUSED_PUBLIC_KEY = generate_key_pair()[1]
UNUSED_SIGNING_SECRET = generate_key_pair()[0]


def asyncapi_document() -> dict[str, Any]:
    """Channels without a topic prefix; the service is built, never started."""
    settings = EntrySettings(
        _env_file=None,
        internal_token_public_key=UNUSED_PUBLIC_KEY,
        ticket_signing_secret=UNUSED_SIGNING_SECRET,
        kafka_topic_prefix="",
        kafka_bootstrap_servers="kafka:9092",
    )
    return document_of(
        Entry(settings).runtime,
        title="entry",
        description=(
            "Issues tickets from confirmed bookings and voids them on cancellations, refunds "
            "and cancelled events; keeps event and ticket type names from the catalog."
        ),
    )
