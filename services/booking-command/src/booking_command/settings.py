from __future__ import annotations

from pydantic import Field, PostgresDsn

from service_kit.settings import InternalTokenSettings, KafkaSettings, PostgresSettings


class BookingCommandSettings(PostgresSettings, KafkaSettings, InternalTokenSettings):
    service_name: str = "booking-command"
    http_port: int = 8001
    database_url: PostgresDsn = PostgresDsn(
        "postgresql://postgres@127.0.0.1:5432/ticketing_booking"
    )

    event_store_threads: int = Field(
        default=16,
        ge=2,
        le=256,
        description=(
            "Threads that run the synchronous event store; each holds at most one "
            "connection, so keep it at or below DATABASE_POOL_SIZE + overflow"
        ),
    )
    event_store_pool_overflow: int = Field(default=10, ge=0, le=200)

    hold_timeout_seconds: float = Field(
        default=120, gt=0, le=86_400, description="How long a PENDING booking holds tickets"
    )
    hold_expiry_interval_seconds: float = Field(default=1.0, gt=0, le=300)

    idempotency_ttl_seconds: float = Field(default=24 * 3600, gt=0, le=30 * 86_400)

    group_commit_max_batch: int = Field(default=500, ge=1, le=10_000)

    catalog_cache_ttl_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long another replica's catalog change may go unseen by bookings",
    )

    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_idle_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    relay_retry_max_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Longest wait between failed outbox rounds"
    )

    consumer_group: str = Field(default="booking-command", min_length=1, max_length=200)
    create_topics: bool = Field(
        default=True, description="Create missing topics at start-up (off when a Job does it)"
    )
