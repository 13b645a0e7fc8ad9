from __future__ import annotations

from pydantic import Field, PostgresDsn

from service_kit.settings import (
    InternalTokenSettings,
    KafkaSettings,
    PostgresSettings,
    RedisSettings,
)
from ticketing_contracts import topics


class QueryProjectionSettings(
    PostgresSettings, KafkaSettings, RedisSettings, InternalTokenSettings
):
    service_name: str = "query-projection"
    http_port: int = 8003
    database_url: PostgresDsn = PostgresDsn("postgresql://postgres@127.0.0.1:5432/ticketing_query")

    consumer_group: str = Field(default="query-projection", min_length=1, max_length=200)
    run_consumer: bool = Field(default=True, description="Off for replicas that only serve queries")
    max_wait_ms: int = Field(
        default=2000,
        ge=0,
        le=30_000,
        description="Upper bound (and default) of a query's wait for min_position/min_version",
    )
    readiness_max_lag_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Not ready while a partition has had unapplied messages for longer",
    )
    event_cache_ttl_seconds: int = Field(default=600, ge=1, le=86_400)
    redis_check_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often each replica checks Redis's read models are whole (refills them)",
    )
    topic_partitions: int = Field(
        default=topics.DEFAULT_PARTITIONS, ge=1, le=1000, description="For topics created at start"
    )

    @property
    def projected_topics(self) -> tuple[str, ...]:
        return (self.catalog_topic, self.booking_topic, self.inventory_topic)

    @property
    def position_topics(self) -> tuple[str, ...]:
        """Topics carrying booking-command's positions (read-your-writes)."""
        return (self.catalog_topic, self.booking_topic)
