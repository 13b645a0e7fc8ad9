"""Public contracts of the ticketing platform: envelopes, Kafka headers, topics."""

from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.topics import ALL_TOPICS

__all__ = ["ALL_TOPICS", "EventEnvelope"]
