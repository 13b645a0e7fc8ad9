"""Service settings read from the environment (and an optional `.env`).

Each service composes the groups it uses (Postgres, Redis, Kafka, JWT) on top of
`ServiceSettings`. Invalid or unsafe configuration stops the service at start-up
with a message that names every offending variable.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal, Self, TypeVar

from pydantic import (
    Field,
    PostgresDsn,
    RedisDsn,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_JWT_SECRET_LENGTH = 32
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "example",
    "secret",
    "password",
    "your-",
    "your_",
    "xxx",
    "todo",
    "dummy",
)
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ConfigurationError(SystemExit):
    """Raised at start-up when the environment does not describe a runnable service."""


def looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(word in lowered for word in PLACEHOLDER_WORDS) or len(set(value)) <= 2


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    service_name: str = "service"
    service_version: str = "0.1.0"
    environment: Environment = Environment.DEVELOPMENT
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_grace_seconds: int = Field(
        default=20, ge=1, le=600, description="Time in-flight requests get to finish on SIGTERM"
    )
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    forwarded_allow_ips: str = Field(
        default="",
        description=(
            "Comma-separated proxy addresses (or *) whose X-Forwarded-For is trusted, e.g. the "
            "ingress controller; empty trusts none and the TCP peer is the client"
        ),
    )

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


class PostgresSettings(ServiceSettings):
    database_url: PostgresDsn = PostgresDsn("postgresql://postgres@127.0.0.1:5432/ticketing")
    database_pool_size: int = Field(default=10, ge=1, le=200)

    @model_validator(mode="after")
    def _production_database_needs_real_password(self) -> Self:
        if self.is_production:
            password = self.database_url.hosts()[0].get("password")
            if not password or looks_like_placeholder(password):
                raise ValueError(
                    "DATABASE_URL must carry a real password in production "
                    "(none or a placeholder was given)"
                )
        return self

    @property
    def database_dsn(self) -> str:
        return str(self.database_url)


class RedisSettings(ServiceSettings):
    redis_url: RedisDsn = RedisDsn("redis://127.0.0.1:6379/0")
    redis_key_prefix: str = Field(default="", max_length=64)


class KafkaSettings(ServiceSettings):
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = Field(default="", max_length=100)
    kafka_idempotent_producer: bool = Field(
        default=False,
        description="Enable on real Kafka; correctness never depends on it",
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_is_host_port_list(cls, value: str) -> str:
        servers = [server.strip() for server in value.split(",") if server.strip()]
        if not servers:
            raise ValueError("at least one host:port is required")
        for server in servers:
            if not _HOST_PORT.match(server) or not 0 < int(server.rsplit(":", 1)[1]) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    @field_validator("kafka_topic_prefix")
    @classmethod
    def _topic_prefix_is_legal(cls, value: str) -> str:
        if not _TOPIC_PREFIX.match(value):
            raise ValueError("only letters, digits, '.', '_' and '-' are allowed in topic names")
        return value

    consumer_max_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Most messages a subscriber is handed (and stores in one transaction)",
    )
    consumer_fetch_timeout_ms: int = Field(default=100, ge=1, le=10_000)
    consumer_max_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Times a message may fail for a non-transient reason before it goes to the "
            "dead-letter topic"
        ),
    )
    consumer_retry_initial_seconds: float = Field(default=0.05, gt=0, le=10)
    consumer_retry_max_seconds: float = Field(default=5.0, gt=0, le=300)

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"

    def group_id(self, name: str) -> str:
        """Consumer groups are broker-wide, so the prefix namespaces them as well as topics."""
        return f"{self.kafka_topic_prefix}{name}"


class JwtSettings(ServiceSettings):
    jwt_secret: SecretStr = Field(description="HMAC key for HS256 tokens; at least 32 characters")
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"

    @field_validator("jwt_secret")
    @classmethod
    def _secret_is_strong(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if len(secret) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_JWT_SECRET_LENGTH} characters (got {len(secret)}); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if looks_like_placeholder(secret):
            raise ValueError("looks like a placeholder; generate a random secret")
        return value


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Build settings or stop with one readable line per invalid variable."""
    try:
        return settings_class()
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            variable = "_".join(str(part) for part in issue["loc"]).upper() or "settings"
            problems.append(f"  {variable}: {issue['msg']}")
        message = "Invalid configuration, refusing to start:\n" + "\n".join(problems)
        raise ConfigurationError(message) from None
