from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, Field, PostgresDsn

from service_kit.settings import (
    Dependency,
    InternalTokenSettings,
    KafkaSettings,
    PostgresSettings,
    RedisSettings,
    ServiceTokenIssuerSettings,
)
from ticketing_contracts.holds import MAX_HOLDS_PER_BATCH, MAX_KNOWN_BOOKINGS_QUESTION


# ServiceTokenIssuerSettings: its own key, for the sweeper's questions to booking-command.
class InventorySettings(
    PostgresSettings,
    KafkaSettings,
    RedisSettings,
    InternalTokenSettings,
    ServiceTokenIssuerSettings,
):
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

    hold_seconds: float = Field(
        default=120,
        gt=0,
        le=86_400,
        description=(
            "How long a hold made through POST /internal/v1/holds lasts (its hold_expires_at); "
            "booking-command expires holds, so keep it equal to its HOLD_TIMEOUT_SECONDS"
        ),
    )
    hold_batch_max: int = Field(
        default=500,
        ge=1,
        le=MAX_HOLDS_PER_BATCH,
        description="Most holds one POST /internal/v1/holds may ask for (one transaction)",
    )
    unclaimed_hold_seconds: float = Field(
        default=30,
        gt=0,
        le=3600,
        description=(
            "How long a hold made over HTTP waits for its booking's fact (the claim) before "
            "inventory asks booking-command whether it stores the booking, and releases the "
            "hold if it does not; longer than booking-command ever takes to store a booking "
            "after the hold's answer"
        ),
    )
    unclaimed_hold_check_seconds: float = Field(
        default=5,
        gt=0,
        le=600,
        description=(
            "How often the sweeper looks for unclaimed holds, and asks booking-command again "
            "after it did not answer"
        ),
    )
    unclaimed_hold_batch: int = Field(
        default=200,
        ge=1,
        le=MAX_KNOWN_BOOKINGS_QUESTION,
        description="Most unclaimed holds one sweep asks about and settles in one transaction",
    )
    booking_command_url: Annotated[AnyHttpUrl, Dependency.HTTP] = Field(
        default=AnyHttpUrl("http://127.0.0.1:8001"),
        description="Where the sweeper asks booking-command which bookings it stores",
    )
    booking_command_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    booking_command_retry_attempts: int = Field(default=3, ge=1, le=10)

    waitlist_offer_seconds: float = Field(
        default=900,
        gt=0,
        le=604_800,
        description=(
            "How long a waitlist offer holds its tickets for the fan when the event sets no "
            "waitlist_offer_minutes"
        ),
    )
    waitlist_offer_step_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description=(
            "How often each replica's offer step ends the offers due and offers free tickets "
            "to the next waiting entries (also woken after a batch of booking facts)"
        ),
    )
    waitlist_offer_round_size: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="Most shows one round of the offer step decides (one transaction each)",
    )
