"""Messages as the projection sees them: decoded public events with their envelopes."""

from __future__ import annotations

from query_projection.domain.versions import catalog_version
from service_kit.kafka.messages import ConsumedMessage, PartitionBatch
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import PublicEvent, decode_message
from ticketing_contracts.topics import CATALOG_EVENTS

DecodedEvent = tuple[EventEnvelope, PublicEvent]
ProjectedMessage = ConsumedMessage[DecodedEvent]
ProjectedBatch = PartitionBatch[DecodedEvent]


def decode_projected(value: bytes) -> DecodedEvent:
    """The contract's decoding, plus what the projection needs to order catalog events.

    Raises a ContractError (the message goes to the dead-letter topic) otherwise.
    """
    envelope, event = decode_message(value)
    if event.TOPIC == CATALOG_EVENTS:
        catalog_version(envelope)
    return envelope, event
