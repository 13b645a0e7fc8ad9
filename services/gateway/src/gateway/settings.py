from __future__ import annotations

from typing import Annotated, Self

from limits import parse
from pydantic import (
    AnyHttpUrl,
    EmailStr,
    Field,
    PostgresDsn,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode

from service_kit.settings import (
    Dependency,
    InternalTokenIssuerSettings,
    JwtSettings,
    PostgresSettings,
    RedisSettings,
)

RATE_LIMIT_FORMAT = r"^\s*\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?\s*$"


class GatewaySettings(JwtSettings, RedisSettings, PostgresSettings, InternalTokenIssuerSettings):
    service_name: str = "gateway"
    http_port: int = 8000
    database_url: PostgresDsn = PostgresDsn(
        "postgresql://postgres@127.0.0.1:5432/ticketing_gateway"
    )
    database_pool_size: int = Field(default=5, ge=1, le=200)

    booking_command_url: Annotated[AnyHttpUrl, Dependency.HTTP] = AnyHttpUrl(
        "http://127.0.0.1:8001"
    )
    inventory_url: Annotated[AnyHttpUrl, Dependency.HTTP] = AnyHttpUrl("http://127.0.0.1:8002")
    query_projection_url: Annotated[AnyHttpUrl, Dependency.HTTP] = AnyHttpUrl(
        "http://127.0.0.1:8003"
    )
    entry_url: Annotated[AnyHttpUrl, Dependency.HTTP] = Field(
        default=AnyHttpUrl("http://127.0.0.1:8004"),
        description="The entry service: tickets, door staff and check-in",
    )
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS"
    )
    admin_email: EmailStr | None = None
    admin_password: SecretStr | None = None

    # Tokens
    jwt_private_key: SecretStr | None = Field(default=None, description="PEM key for RS256")
    jwt_public_key: str | None = Field(default=None, description="PEM key for RS256")
    jwt_ttl_seconds: int = Field(default=1800, ge=60, le=86_400)
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=120)
    jwt_issuer: str = "ticketing-gateway"

    # Password hashing (argon2id, one lane). Each running hash holds `memory_kib` of RAM:
    # workers x memory_kib must fit the pod's memory limit next to the rest of the process.
    password_hash_time_cost: int = Field(default=2, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=19_456, ge=1024, le=1_048_576)
    password_hash_workers: int = Field(
        default=2, ge=1, le=64, description="Threads hashing passwords at the same time"
    )
    password_hash_queue_size: int = Field(
        default=16,
        ge=0,
        le=10_000,
        description="Hashes that may wait for a worker; beyond that, 503 with Retry-After",
    )

    # Failed logins per account (unknown emails too): free attempts, then exponential backoff.
    login_failures_before_backoff: int = Field(default=5, ge=1, le=100)
    login_backoff_initial_seconds: int = Field(default=2, ge=1, le=3600)
    login_backoff_max_seconds: int = Field(default=300, ge=1, le=86_400)
    # Role and token version of a caller are read from the user store, cached this long.
    user_cache_seconds: float = Field(default=1.0, ge=0, le=1.0)
    # Logouts are kept in PostgreSQL; each process checks tokens against its own copy,
    # refreshed this often (how long another replica may still accept a logged-out token).
    revoked_tokens_refresh_seconds: float = Field(default=1.0, gt=0, le=10)
    revoked_tokens_max_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Past this without a refresh (PostgreSQL away), authenticated requests 503",
    )

    # Downstream calls
    downstream_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    downstream_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    downstream_max_connections: int = Field(default=200, ge=1, le=10_000)
    booking_batch_max_size: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="Most booking requests coalesced into one call to booking-command",
    )
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_initial_seconds: float = Field(default=0.05, ge=0, le=5)
    retry_max_seconds: float = Field(default=1.0, ge=0, le=30)
    breaker_fail_max: int = Field(default=5, ge=1, le=1000)
    breaker_reset_seconds: float = Field(default=10.0, gt=0, le=600)

    # Read-your-writes
    read_wait_ms: int = Field(
        default=3000, ge=0, le=30_000, description="How long a read waits for the caller's writes"
    )
    read_position_ttl_seconds: int = Field(default=300, ge=1, le=86_400)

    # Sold-out fast path
    public_read_fresh_seconds: float = Field(
        default=0.2,
        ge=0,
        le=1.0,
        description="Identical anonymous catalog reads share one downstream answer this long",
    )
    availability_cache_ttl_seconds: float = Field(default=0.5, ge=0, le=1.0)

    # Rate limits ("<count>/<period>", e.g. "10/minute"); per user, or per address when anonymous.
    rate_limits_enabled: bool = True
    rate_limit_default: str = Field(default="300/minute", pattern=RATE_LIMIT_FORMAT)
    rate_limit_booking: str = Field(default="30/minute", pattern=RATE_LIMIT_FORMAT)
    rate_limit_share_without_redis: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description=(
            "While Redis is away each process counts alone and allows this share of every "
            "limit: 1 / the number of gateway replicas keeps the total"
        ),
    )
    # Sign-ups and logins: a crowd behind one address (campus, carrier NAT) must get through
    # at an on-sale, so per address only failures are limited, and sign-ups generously.
    rate_limit_register: str = Field(
        default="600/hour",
        pattern=RATE_LIMIT_FORMAT,
        description="Sign-up attempts per address, successes included",
    )
    rate_limit_register_taken_emails: str = Field(
        default="100/hour",
        pattern=RATE_LIMIT_FORMAT,
        description="Sign-ups per address naming an email that already has an account",
    )
    rate_limit_login_failures: str = Field(
        default="100/hour",
        pattern=RATE_LIMIT_FORMAT,
        description="Failed logins per address (successful logins are not limited)",
    )
    rate_limit_login: str | None = Field(
        default=None, description="Retired: see RATE_LIMIT_LOGIN_FAILURES"
    )

    # HTTP
    max_request_body_bytes: int = Field(default=65_536, ge=1024, le=10_485_760)
    gzip_minimum_bytes: int = Field(default=1024, ge=0)
    public_cache_max_age_seconds: int = Field(default=5, ge=0, le=3600)

    # Booking status stream
    sse_poll_interval_seconds: float = Field(default=0.25, gt=0, le=10)
    sse_max_duration_seconds: float = Field(default=120, gt=0, le=3600)
    sse_max_streams_per_user: int = Field(
        default=5, ge=1, le=1000, description="Open status streams a user may hold (per pod)"
    )
    sse_max_streams_per_pod: int = Field(
        default=1000, ge=1, le=100_000, description="Open status streams of one gateway process"
    )

    # Waiting rooms (per event, turned on through the API; state in Redis)
    waiting_room_admission_interval_seconds: float = Field(
        default=0.5,
        ge=0.05,
        le=5,
        description="How often each replica admits fans and rereads which events have a room "
        "on: a room turned on is enforced by the other replicas within this",
    )
    waiting_room_booking_p99_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Admission halves while forwarded bookings' p99 (last 10 s) is above this",
    )
    waiting_room_recovery_seconds: float = Field(
        default=60,
        ge=1,
        le=3600,
        description="Time the admission rate takes to grow back from its lowest to the room's",
    )
    waiting_room_catalog_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=60,
        description="An event's sale start, read from the catalog, is kept this long",
    )
    waiting_room_stream_interval_seconds: float = Field(
        default=1.0, gt=0, le=30, description="How often a place's event stream looks for changes"
    )

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _rs256_needs_a_key_pair(self) -> Self:
        if self.jwt_algorithm == "RS256":
            private = self.jwt_private_key.get_secret_value() if self.jwt_private_key else ""
            public = self.jwt_public_key or ""
            if "PRIVATE KEY" not in private or "PUBLIC KEY" not in public:
                raise ValueError(
                    "JWT_ALGORITHM=RS256 needs JWT_PRIVATE_KEY and JWT_PUBLIC_KEY as PEM text"
                )
        return self

    @field_validator(
        "rate_limit_default",
        "rate_limit_booking",
        "rate_limit_register",
        "rate_limit_register_taken_emails",
        "rate_limit_login_failures",
    )
    @classmethod
    def _limit_allows_a_request(cls, value: str) -> str:
        if parse(value).amount < 1:
            raise ValueError("a limit of 0 would refuse every request; give at least 1")
        return value

    @field_validator("rate_limit_login")
    @classmethod
    def _retired(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError(
                "retired: successful logins are no longer limited per address; set "
                "RATE_LIMIT_LOGIN_FAILURES (failed logins per address) instead"
            )
        return value

    @model_validator(mode="after")
    def _admin_login_is_complete(self) -> Self:
        if (self.admin_email is None) != (self.admin_password is None):
            raise ValueError("set both ADMIN_EMAIL and ADMIN_PASSWORD, or neither")
        return self

    def downstream_services(self) -> dict[str, str]:
        return {
            "booking-command": str(self.booking_command_url).rstrip("/"),
            "inventory": str(self.inventory_url).rstrip("/"),
            "query-projection": str(self.query_projection_url).rstrip("/"),
            "entry": str(self.entry_url).rstrip("/"),
        }
