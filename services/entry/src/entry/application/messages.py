"""Facts as entry consumes them: decoded public events with their envelopes."""

from __future__ import annotations

from service_kit.kafka.messages import ConsumedMessage, PartitionBatch
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import PublicEvent, decode_message

DecodedFact = tuple[EventEnvelope, PublicEvent]
FactMessage = ConsumedMessage[DecodedFact]
FactBatch = PartitionBatch[DecodedFact]


def decode_fact(value: bytes) -> DecodedFact:
    """The contract's decoding; a ContractError sends the message to the dead letters."""
    return decode_message(value)
