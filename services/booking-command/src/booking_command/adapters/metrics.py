"""Prometheus metrics of the booking-command service (default registry, GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BOOKING_REQUESTS = Counter(
    "booking_requests_total",
    "Booking requests answered, by outcome",
    ["outcome"],
)
GROUP_COMMIT_BATCH_SIZE = Histogram(
    "group_commit_batch_size",
    "Writes stored per event-store transaction by group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
OUTBOX_PUBLISHED_EVENTS = Counter(
    "outbox_published_events_total",
    "Events published to Kafka by the outbox relay",
    ["topic"],
)
HOLDS_EXPIRED = Counter("booking_holds_expired_total", "PENDING bookings expired by the hold timer")
