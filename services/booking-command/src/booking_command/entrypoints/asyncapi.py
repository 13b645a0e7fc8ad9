"""booking-command's AsyncAPI document, from the same wiring the service runs."""

from __future__ import annotations

import asyncio
from typing import Any

from booking_command.bootstrap import kafka_runtime
from booking_command.settings import BookingCommandSettings
from service_kit.asyncapi_commands import asyncapi_document as document_of
from service_kit.internal_auth import generate_key_pair

# The document never checks a token; settings just need a valid key.
UNUSED_PUBLIC_KEY = generate_key_pair()[1]
UNUSED_PAYMENT_KEY = "unused-by-the-asyncapi-document-k3y"


def asyncapi_document() -> dict[str, Any]:
    """Channels without a topic prefix, from the broker the service publishes to (never
    started)."""
    settings = BookingCommandSettings(
        _env_file=None,
        internal_token_public_key=UNUSED_PUBLIC_KEY,
        payment_provider_secret_key=UNUSED_PAYMENT_KEY,
        kafka_topic_prefix="",
        kafka_bootstrap_servers="kafka:9092",
    )

    async def build() -> dict[str, Any]:
        return document_of(
            kafka_runtime(settings),
            title="booking-command",
            description=(
                "Publishes the catalog and booking events through its outbox and "
                "consumes nothing: inventory holds a booking's tickets over HTTP before "
                "the booking is stored, and the capture that confirms it travels in its "
                "booking.confirmed (version 2)."
            ),
        )

    return asyncio.run(build())
