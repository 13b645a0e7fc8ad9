"""inventory's AsyncAPI document, from the same wiring the service runs."""

from __future__ import annotations

from typing import Any

from inventory.bootstrap import InventoryRuntime
from inventory.settings import InventorySettings
from service_kit.asyncapi_commands import asyncapi_document as document_of
from service_kit.internal_auth import generate_key_pair

# The document never checks a token; settings just need a valid key.
UNUSED_PUBLIC_KEY = generate_key_pair()[1]


def asyncapi_document() -> dict[str, Any]:
    """Channels without a topic prefix; the runtime is built, never started."""
    settings = InventorySettings(
        _env_file=None,
        internal_token_public_key=UNUSED_PUBLIC_KEY,
        kafka_topic_prefix="",
        kafka_bootstrap_servers="kafka:9092",
    )
    return document_of(
        InventoryRuntime(settings).kafka,
        title="inventory",
        description=(
            "Reserves and releases tickets per event and ticket type: consumes booking "
            "events (one consumer group) and the catalog (every replica), publishes its "
            "answers through its outbox."
        ),
    )
