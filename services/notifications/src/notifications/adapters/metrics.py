"""Prometheus metrics of notifications (served by the kit's GET /metrics).

Consumer lag, batches, failures and dead letters come from the kit's Kafka runtime; the
SMTP relay's and entry's breakers are on the kit's circuit_breaker_state gauge.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

NOTICES_QUEUED = Counter(
    "notifications_queued_total", "Notices written to the outbox (one per fact)", ["kind"]
)
NOTICE_ATTEMPTS = Counter(
    "notifications_attempts_total",
    "Attempts to send a notice, by what came of them (sent, deferred, failed, superseded)",
    ["kind", "outcome"],
)
PENDING = Gauge("notifications_pending", "Notices waiting to be sent")
OLDEST_PENDING_SECONDS = Gauge(
    "notifications_oldest_pending_seconds", "Age of the oldest notice waiting to be sent"
)
FAILED = Gauge(
    "notifications_failed",
    "Notices given up on, waiting for an operator (GET /internal/v1/notices/failed)",
)
