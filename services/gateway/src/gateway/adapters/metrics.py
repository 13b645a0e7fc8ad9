"""Gateway metrics beside the kit's (HTTP, circuit_breaker_state, retries_total)."""

from __future__ import annotations

from prometheus_client import Counter

RATE_LIMITED = Counter(
    "rate_limited_total", "Requests refused with 429, by route template", ["route"]
)
