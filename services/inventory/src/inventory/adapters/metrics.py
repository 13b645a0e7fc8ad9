"""Inventory's own Prometheus metrics (consumer, breaker and retry ones are the kit's)."""

from __future__ import annotations

from prometheus_client import Counter

RESERVATIONS = Counter("inventory_reservations_total", "Bookings whose tickets were reserved")
REJECTIONS = Counter(
    "inventory_rejections_total", "Booking requests rejected, by reason", ["reason"]
)
RELEASES = Counter(
    "inventory_releases_total", "Bookings whose tickets went back on sale, by reason", ["reason"]
)
