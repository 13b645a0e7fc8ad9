"""What every stored event says about where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Correlated:
    """The request an event came from (its correlation id) and, when tracing is on, the trace
    it belongs to: stored with the event, so the outbox relay publishes them as headers and a
    later step of the same booking (a payment, an expiry) carries them on."""

    correlation_id: str | None = None
    traceparent: str | None = None
