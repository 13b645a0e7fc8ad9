"""query-projection's AsyncAPI document, from the same wiring the service runs."""

from __future__ import annotations

from typing import Any

from query_projection.bootstrap import QueryProjection
from query_projection.settings import QueryProjectionSettings
from service_kit.asyncapi_commands import asyncapi_document as document_of
from service_kit.internal_auth import generate_key_pair

# The document never checks a token; settings just need a valid key.
UNUSED_PUBLIC_KEY = generate_key_pair()[1]


def asyncapi_document() -> dict[str, Any]:
    """Channels without a topic prefix; the service is built, never started."""
    settings = QueryProjectionSettings(
        _env_file=None,
        internal_token_public_key=UNUSED_PUBLIC_KEY,
        kafka_topic_prefix="",
        kafka_bootstrap_servers="kafka:9092",
    )
    return document_of(
        QueryProjection(settings).runtime,
        title="query-projection",
        description=(
            "Builds the read models (Redis and PostgreSQL) from every catalog, booking and "
            "inventory event."
        ),
    )
