"""Prometheus metrics of entry (served by the kit's GET /metrics).

Consumer lag, batch size and seconds, failures and dead letters come from the service
kit's Kafka runtime.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TICKETS_ISSUED = Counter("entry_tickets_issued_total", "Tickets issued from confirmed bookings")
TICKETS_VOIDED = Counter(
    "entry_tickets_voided_total", "Tickets voided by cancellations, refunds and cancelled events"
)
SCANS = Counter(
    "entry_scans_total", "Scans at the door by result and how they came", ["result", "mode"]
)
FACT_LAG = Histogram(
    "entry_fact_lag_seconds",
    "Time from a fact occurring to its being applied to the tickets",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
