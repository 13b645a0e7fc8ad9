"""CloudEvents-style Kafka header names (binary content mode).

Every message carries its metadata in headers as well as in the envelope, so that
routers, dead-letter tooling and tracing can read it without decoding the body.
"""

from __future__ import annotations

from typing import Final

from ticketing_contracts.envelope import EventEnvelope

SPEC_VERSION: Final = "1.0"

CE_SPECVERSION: Final = "ce_specversion"
CE_ID: Final = "ce_id"
CE_TYPE: Final = "ce_type"
CE_SOURCE: Final = "ce_source"
CE_TIME: Final = "ce_time"
CE_SUBJECT: Final = "ce_subject"
CE_DATASCHEMA_VERSION: Final = "ce_dataschemaversion"
CONTENT_TYPE: Final = "content-type"
CORRELATION_ID: Final = "correlation_id"
CAUSATION_ID: Final = "causation_id"
POSITION: Final = "ce_position"

DEAD_LETTER_ERROR: Final = "dlt_error"
DEAD_LETTER_ORIGINAL_TOPIC: Final = "dlt_original_topic"
DEAD_LETTER_ORIGINAL_PARTITION: Final = "dlt_original_partition"
DEAD_LETTER_ORIGINAL_OFFSET: Final = "dlt_original_offset"
DEAD_LETTER_CONSUMER_GROUP: Final = "dlt_consumer_group"
DEAD_LETTER_SERVICE: Final = "dlt_service"


def headers_for(envelope: EventEnvelope) -> dict[str, str]:
    headers = {
        CE_SPECVERSION: SPEC_VERSION,
        CE_ID: str(envelope.event_id),
        CE_TYPE: envelope.type,
        CE_SOURCE: envelope.producer,
        CE_TIME: envelope.occurred_at.isoformat(),
        CE_DATASCHEMA_VERSION: str(envelope.version),
        CONTENT_TYPE: "application/json",
        CORRELATION_ID: envelope.correlation_id,
    }
    if envelope.causation_id is not None:
        headers[CAUSATION_ID] = envelope.causation_id
    if envelope.position is not None:
        headers[POSITION] = str(envelope.position)
    if envelope.subject is not None:
        headers[CE_SUBJECT] = envelope.subject
    return headers
