"""Inventory's own Prometheus metrics (consumer, breaker and retry ones are the kit's)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RESERVATIONS = Counter("inventory_reservations_total", "Bookings whose tickets were reserved")
REJECTIONS = Counter(
    "inventory_rejections_total", "Booking requests rejected, by reason", ["reason"]
)
RELEASES = Counter(
    "inventory_releases_total", "Bookings whose tickets went back on sale, by reason", ["reason"]
)
HOLD_BATCH_SIZE = Histogram(
    "inventory_hold_batch_size",
    "Holds asked for in one POST /internal/v1/holds",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000),
)
HOLD_BATCH_SECONDS = Histogram(
    "inventory_hold_batch_seconds",
    "Time to decide and store one batch of holds (waits for locks and the catalog included)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HOLD_REPEATS = Counter(
    "inventory_hold_repeats_total",
    "Holds asked for a booking id seen before (a retry): answered again, nothing changed",
)
WAITLIST_OFFERS = Counter(
    "inventory_waitlist_offers_total",
    "Waitlist offers the offer step made, and ended (expired)",
    ["outcome"],
)
