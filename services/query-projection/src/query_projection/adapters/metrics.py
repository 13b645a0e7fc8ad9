"""Prometheus metrics of the projection (served by the kit's GET /metrics).

Consumer lag, batch size and seconds, failures and dead letters come from the service
kit's Kafka runtime.
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
