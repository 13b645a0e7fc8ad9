from __future__ import annotations

from pathlib import Path

from pydantic import Field, PostgresDsn, SecretStr, field_validator

from service_kit.settings import (
    InternalTokenSettings,
    KafkaSettings,
    PostgresSettings,
    looks_like_placeholder,
)
from ticketing_contracts import topics

MIN_TICKET_SIGNING_SECRET_BYTES = 32


class EntrySettings(PostgresSettings, KafkaSettings, InternalTokenSettings):
    service_name: str = "entry"
    http_port: int = 8004
    database_url: PostgresDsn = PostgresDsn("postgresql://postgres@127.0.0.1:5432/ticketing_entry")

    consumer_group: str = Field(default="entry", min_length=1, max_length=200)
    ticket_signing_secret: SecretStr = Field(
        description=(
            "The secret every event's Ed25519 ticket key is derived from (HKDF with the event "
            "id); at least 32 bytes. Changing it re-keys every event: tickets already sent "
            "stop verifying. Generate one with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'"
        )
    )
    ticket_pdf_font: Path | None = Field(
        default=Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        description=(
            "A TrueType font for the names on PDF tickets (Debian's fonts-dejavu-core covers "
            "Latin, Greek and Cyrillic); when the file is missing, names are folded to the "
            "built-in Helvetica's Latin-1"
        ),
    )
    readiness_max_lag_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Not ready while a partition has had unapplied messages for longer",
    )
    topic_partitions: int = Field(
        default=topics.DEFAULT_PARTITIONS, ge=1, le=1000, description="For topics created at start"
    )

    @field_validator("ticket_signing_secret")
    @classmethod
    def _secret_is_strong(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        size = len(secret.encode())
        if size < MIN_TICKET_SIGNING_SECRET_BYTES:
            raise ValueError(
                f"must be at least {MIN_TICKET_SIGNING_SECRET_BYTES} bytes (got {size}); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if looks_like_placeholder(secret):
            raise ValueError("looks like a placeholder; generate a random secret")
        return value

    @property
    def consumed_topics(self) -> tuple[str, ...]:
        return (self.catalog_topic, self.booking_topic)
