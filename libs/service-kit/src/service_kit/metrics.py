"""Prometheus metrics shared by every service, exposed on GET /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled, by route template",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

metrics_router = APIRouter(tags=["operations"])


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    include_in_schema=False,
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# Shared by every service that consumes or produces Kafka messages, so dashboards and
# alerts read one name whichever service emits it.
KAFKA_CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Messages on a partition not yet processed by this consumer",
    ["topic", "partition"],
)
DEAD_LETTER_MESSAGES = Counter(
    "dead_letter_messages_total",
    "Messages sent to the dead-letter topic, by original topic and reason",
    ["topic", "reason"],
)
OUTBOX_PENDING_EVENTS = Gauge(
    "outbox_pending_events",
    "Events stored by this service but not yet published to Kafka",
)
CIRCUIT_BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open",
    ["name"],
)
RETRIES = Counter("retries_total", "Attempts retried after a transient failure", ["operation"])
KAFKA_CONSUMER_BATCH_SIZE = Histogram(
    "kafka_consumer_batch_size",
    "Messages of one partition handed to a subscriber at once",
    ["subscriber"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
KAFKA_CONSUMER_BATCH_SECONDS = Histogram(
    "kafka_consumer_batch_seconds",
    "Time a subscriber took to handle one partition's batch, retries included",
    ["subscriber"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
KAFKA_CONSUMER_FAILURES = Counter(
    "kafka_consumer_failures_total",
    "Batches or messages a subscriber failed on, by kind (transient or not)",
    ["subscriber", "kind"],
)
BROKER_CHANGES = Counter(
    "kafka_broker_changes_total",
    "New Kafka clusters detected at start-up (cluster id differs from the stored one); "
    "each one republished the service's durable log and dropped the old broker's offsets",
    ["service"],
)
KAFKA_POSITION_BEYOND_LOG_END = Counter(
    "kafka_consumer_position_beyond_log_end_total",
    "Partitions whose stored position is past the broker's log end (a lost broker not "
    "recovered): the consumer refuses to skip to it",
    ["subscriber", "topic", "partition"],
)
