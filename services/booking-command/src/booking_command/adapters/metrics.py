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
PAYMENT_CALLS = Counter(
    "payment_provider_calls_total",
    "Calls to the payment provider by operation and outcome "
    "(ok, declined, refused, server_error, timeout, unreachable, breaker_open)",
    ["operation", "outcome"],
)
PAYMENT_CALL_SECONDS = Histogram(
    "payment_provider_call_seconds",
    "Time a payment provider call took (each attempt)",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
INVENTORY_HOLD_CALLS = Counter(
    "inventory_hold_calls_total",
    "Hold calls to inventory by outcome (ok, refused, server_error, timeout, unreachable, "
    "breaker_open)",
    ["outcome"],
)
INVENTORY_HOLD_CALL_SECONDS = Histogram(
    "inventory_hold_call_seconds",
    "Time a hold call to inventory took (each attempt)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PAYMENTS = Counter(
    "booking_payments_total",
    "Booking payments by what happened (captured, declined, refused, refunded, "
    "authorisation_cancelled)",
    ["outcome"],
)
DUE_PAYMENTS_POSTPONED = Counter(
    "booking_payments_postponed_total",
    "Due payments left for a later round because the provider was unavailable",
)
EVENT_CANCELLATION_BOOKINGS = Counter(
    "event_cancellation_bookings_total",
    "Bookings ended because their event was cancelled (cancelled: were CONFIRMED, refunded; "
    "rejected: were PENDING)",
    ["outcome"],
)
