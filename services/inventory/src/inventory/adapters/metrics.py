"""Inventory's own Prometheus metrics (breaker, retry and dead-letter ones live with them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RESERVATIONS = Counter("inventory_reservations_total", "Bookings whose tickets were reserved")
REJECTIONS = Counter(
    "inventory_rejections_total", "Booking requests rejected, by reason", ["reason"]
)
RELEASES = Counter(
    "inventory_releases_total", "Bookings whose tickets went back on sale, by reason", ["reason"]
)
BATCH_SIZE = Histogram(
    "inventory_batch_size",
    "Messages decided and committed together",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
BATCH_COMMIT_SECONDS = Histogram(
    "inventory_batch_commit_seconds",
    "Time to decide and commit one batch, retries included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
