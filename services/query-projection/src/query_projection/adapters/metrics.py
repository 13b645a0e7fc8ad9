"""Prometheus metrics of the projection (served by the kit's GET /metrics).

`kafka_consumer_lag` and `dead_letter_messages_total` come from the service kit.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROJECTION_LAG = Histogram(
    "projection_lag_seconds",
    "Time from an event occurring to its being applied to the read models",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
APPLIED_OFFSET = Gauge(
    "projection_applied_offset",
    "Next offset to apply per partition (everything before it is applied)",
    ["topic", "partition"],
)
APPLIED_POSITION = Gauge(
    "projection_applied_position",
    "Highest producer position (notification id) applied per partition",
    ["topic", "partition"],
)
MESSAGES_APPLIED = Counter(
    "projection_messages_applied_total", "Messages applied to the read models", ["topic"]
)
BATCH_DURATION = Histogram(
    "projection_batch_duration_seconds",
    "Time to apply one fetched batch (one transaction)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_FAILURES = Counter(
    "projection_batch_failures_total", "Batches that failed and will be retried"
)
