from __future__ import annotations

from typing import Annotated, Self

from pydantic import AnyHttpUrl, Field, PostgresDsn, SecretStr, field_validator, model_validator

from service_kit.settings import (
    Dependency,
    InternalTokenSettings,
    KafkaSettings,
    PostgresSettings,
    RedisSettings,
    ServiceTokenIssuerSettings,
    looks_like_placeholder,
)

MIN_PAYMENT_KEY_LENGTH = 24
# Payment provider keys written into this repository's tests and docs (and the provider
# documentation's own example key): public, so production refuses them.
KNOWN_TEST_PAYMENT_PROVIDER_KEYS = frozenset(
    {
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_Fz8Lq2Vw7Rb4Nc9Xt1Hy6Kd3Gm5Jp0Ta",
    }
)


# ServiceTokenIssuerSettings: its own key, for its calls to inventory (POST /internal/v1/holds).
class BookingCommandSettings(
    PostgresSettings,
    RedisSettings,
    KafkaSettings,
    InternalTokenSettings,
    ServiceTokenIssuerSettings,
):
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

    create_topics: bool = Field(
        default=True, description="Create missing topics at start-up (off when a Job does it)"
    )

    inventory_url: Annotated[AnyHttpUrl, Dependency.HTTP] = Field(
        default=AnyHttpUrl("http://127.0.0.1:8002"),
        description="Base URL of inventory, which holds the tickets of every new booking",
    )
    inventory_timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="Longest wait for inventory's answer to a hold call"
    )
    inventory_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    inventory_retry_attempts: int = Field(default=3, ge=1, le=10)
    inventory_retry_initial_seconds: float = Field(default=0.05, gt=0, le=10)
    inventory_retry_max_seconds: float = Field(default=0.5, gt=0, le=60)
    inventory_breaker_fail_max: int = Field(
        default=5, ge=1, le=1000, description="Failed hold calls in a row that open the breaker"
    )
    inventory_breaker_reset_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="How long an open breaker answers bookings 503 without asking inventory",
    )

    query_projection_url: Annotated[AnyHttpUrl, Dependency.HTTP] = Field(
        default=AnyHttpUrl("http://127.0.0.1:8003"),
        description=(
            "Base URL of query-projection, which `python -m booking_command reconcile` "
            "compares with the event store after a restore"
        ),
    )
    reconciliation_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Longest wait for one reconciliation answer"
    )

    payment_provider_url: Annotated[AnyHttpUrl, Dependency.HTTP] = Field(
        default=AnyHttpUrl("http://127.0.0.1:8010"),
        description="Base URL of the payment provider's API (the simulator locally)",
    )
    payment_provider_secret_key: SecretStr = Field(
        description=(
            "The platform's secret key at the payment provider (Bearer token); "
            f"at least {MIN_PAYMENT_KEY_LENGTH} characters"
        )
    )
    payment_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="Longest wait for one provider answer; a charge that times out is looked "
        "up by its idempotency key before anything else",
    )
    payment_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    payment_retry_attempts: int = Field(default=3, ge=1, le=10)
    payment_retry_initial_seconds: float = Field(default=0.1, gt=0, le=10)
    payment_retry_max_seconds: float = Field(default=2.0, gt=0, le=60)
    payment_breaker_fail_max: int = Field(
        default=5, ge=1, le=1000, description="Failed provider calls in a row that open the breaker"
    )
    payment_breaker_reset_seconds: float = Field(
        default=10.0, gt=0, le=600, description="How long an open breaker refuses calls"
    )
    payment_concurrency: int = Field(
        default=64, ge=1, le=1000, description="Payments charged at once by one replica"
    )
    payment_batch_size: int = Field(
        default=64, ge=1, le=1000, description="Due payments one round claims and records together"
    )
    payment_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a claimed payment is left to its worker before another may "
        "take it (a crashed replica's payments are charged again after this)",
    )
    payment_due_backoff_max_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest wait before an unavailable provider "
        "is asked again about a due payment",
    )
    payment_idle_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the worker looks for due payments "
        "besides being woken by reservations",
    )

    event_cancellation_batch_size: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Bookings of a cancelled event ended (and refunds made due) per transaction",
    )
    event_cancellation_grace_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="After this long past an event's cancellation no replica takes a booking "
        "for it any more (well above CATALOG_CACHE_TTL_SECONDS); then a final pass ends any "
        "booking that committed late",
    )

    @field_validator("payment_provider_secret_key")
    @classmethod
    def _payment_key_is_usable(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if len(key) < MIN_PAYMENT_KEY_LENGTH:
            raise ValueError(
                f"must be at least {MIN_PAYMENT_KEY_LENGTH} characters (got {len(key)})"
            )
        if any(character.isspace() for character in key):
            raise ValueError("must not contain whitespace")
        if looks_like_placeholder(key):
            raise ValueError("looks like a placeholder; use the key the provider issued")
        return value

    @model_validator(mode="after")
    def _grace_outlasts_the_catalog_cache(self) -> Self:
        if self.event_cancellation_grace_seconds <= self.catalog_cache_ttl_seconds:
            raise ValueError(
                "EVENT_CANCELLATION_GRACE_SECONDS must be longer than CATALOG_CACHE_TTL_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _production_refuses_published_payment_keys(self) -> Self:
        if (
            self.is_production
            and self.payment_provider_secret_key.get_secret_value()
            in KNOWN_TEST_PAYMENT_PROVIDER_KEYS
        ):
            raise ValueError(
                "PAYMENT_PROVIDER_SECRET_KEY is a test key published in this repository"
            )
        return self
