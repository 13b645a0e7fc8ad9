"""notifications' AsyncAPI document, from the same wiring the service runs."""

from __future__ import annotations

from typing import Any

from notifications.bootstrap import Notifications
from notifications.settings import NotificationsSettings
from service_kit.asyncapi_commands import asyncapi_document as document_of
from service_kit.internal_auth import generate_key_pair

# The document never checks a token; settings just need a valid key.
UNUSED_PUBLIC_KEY = generate_key_pair()[1]


def asyncapi_document() -> dict[str, Any]:
    """Channels without a topic prefix; the service is built, never started."""
    settings = NotificationsSettings(
        _env_file=None,
        internal_token_public_key=UNUSED_PUBLIC_KEY,
        kafka_topic_prefix="",
        kafka_bootstrap_servers="kafka:9092",
    )
    return document_of(
        Notifications(settings).runtime,
        title="notifications",
        description=(
            "E-mails fans from the booking facts (confirmation with tickets, cancellation, "
            "event cancellation, refund), each notice once per fact; reads the catalog for "
            "event names and times. Publishes nothing but dead letters."
        ),
    )
