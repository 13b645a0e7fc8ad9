from __future__ import annotations

from pydantic import Field, PostgresDsn

from service_kit.settings import (
    InternalTokenSettings,
    KafkaSettings,
    PostgresSettings,
    RedisSettings,
)


class InventorySettings(PostgresSettings, KafkaSettings, RedisSettings, InternalTokenSettings):
    service_name: str = "inventory"
    http_port: int = 8002
    database_url: PostgresDsn = PostgresDsn(
        "postgresql://postgres@127.0.0.1:5432/ticketing_inventory"
    )
    consumer_group: str = Field(default="inventory", min_length=1)
    catalog_catch_up_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="How long a request for an unknown show waits for the catalog to catch up",
    )
    breaker_fail_max: int = Field(default=5, ge=1, le=1000)
    breaker_reset_seconds: float = Field(default=10.0, gt=0, le=600)
    breaker_state_in_redis: bool = Field(
        default=False, description="Share circuit breaker state between replicas through Redis"
    )
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_idle_seconds: float = Field(default=0.05, gt=0, le=10)
    retry_initial_seconds: float = Field(
        default=0.05, gt=0, le=10, description="First backoff of the outbox relay after a failure"
    )
    retry_max_seconds: float = Field(default=2.0, gt=0, le=60)
