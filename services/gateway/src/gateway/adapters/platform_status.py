"""What each internal service reports about itself: its readiness probe and its Prometheus
metrics (consumer lag, outbox backlog, breaker states, projection lag). Both routes are
open inside the cluster (the kubelet and Prometheus call them), so no token is needed."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

logger = logging.getLogger(__name__)

BREAKER_STATES = {0: "closed", 1: "half-open", 2: "open"}


def metrics_summary(text: str) -> dict[str, Any]:
    """The figures the console shows, from a Prometheus text exposition."""
    lag_by_topic: dict[str, float] = defaultdict(float)
    breakers: dict[str, str] = {}
    outbox: float | None = None
    dead_lettered = 0.0
    lag_sum = lag_count = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kafka_consumer_lag":
                lag_by_topic[sample.labels.get("topic", "")] += max(0.0, sample.value)
            elif sample.name == "circuit_breaker_state":
                breakers[sample.labels.get("name", "")] = BREAKER_STATES.get(
                    int(sample.value), "unknown"
                )
            elif sample.name == "outbox_pending_events":
                outbox = (outbox or 0.0) + sample.value
            elif sample.name == "dead_letter_messages_total":
                dead_lettered += sample.value
            elif sample.name == "projection_lag_seconds_sum":
                lag_sum += sample.value
            elif sample.name == "projection_lag_seconds_count":
                lag_count += sample.value
    return {
        "consumer_lag": int(sum(lag_by_topic.values())) if lag_by_topic else None,
        "consumer_lag_by_topic": {topic: int(lag) for topic, lag in sorted(lag_by_topic.items())},
        "outbox_pending": int(outbox) if outbox is not None else None,
        "breakers": dict(sorted(breakers.items())),
        "dead_lettered_since_start": int(dead_lettered),
        "projection_lag_seconds_mean": round(lag_sum / lag_count, 4) if lag_count else None,
    }


class ServiceStatusReader:
    def __init__(self, client: httpx.AsyncClient, urls: dict[str, str]) -> None:
        self._client = client
        self._urls = urls

    async def _one(self, name: str, base_url: str) -> dict[str, Any]:
        status: dict[str, Any] = {"name": name, "ready": False, "checks": {}}
        try:
            ready, metrics = await asyncio.gather(
                self._client.get(f"{base_url}/health/ready", timeout=3),
                self._client.get(f"{base_url}/metrics", timeout=3),
            )
        except httpx.HTTPError as error:
            logger.warning("status of %s unavailable: %r", name, error)
            status["error"] = f"did not answer ({type(error).__name__})"
            return status
        try:
            report = ready.json()
            status["ready"] = ready.status_code == 200 and report.get("status") == "ready"
            status["checks"] = {
                check: {"status": result.get("status"), "error": result.get("error")}
                for check, result in report.get("checks", {}).items()
            }
        except ValueError:
            status["error"] = f"readiness answered {ready.status_code}"
        if metrics.status_code == 200:
            status.update(metrics_summary(metrics.text))
        return status

    async def statuses(self) -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(self._one(name, url) for name, url in self._urls.items()))
        )
