from __future__ import annotations

from email.utils import parseaddr
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AnyHttpUrl, AnyUrl, Field, PostgresDsn, SecretStr, model_validator

from service_kit.settings import (
    Dependency,
    InternalTokenSettings,
    KafkaSettings,
    PostgresSettings,
    ServiceTokenIssuerSettings,
    looks_like_placeholder,
)
from ticketing_contracts import topics


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


# ServiceTokenIssuerSettings: its own key, for the tickets' PDF it fetches from entry.
class NotificationsSettings(
    PostgresSettings, KafkaSettings, InternalTokenSettings, ServiceTokenIssuerSettings
):
    service_name: str = "notifications"
    http_port: int = 8005
    database_url: PostgresDsn = PostgresDsn(
        "postgresql://postgres@127.0.0.1:5432/ticketing_notifications"
    )
    consumer_group: str = Field(default="notifications", min_length=1, max_length=200)
    topic_partitions: int = Field(
        default=topics.DEFAULT_PARTITIONS, ge=1, le=1000, description="For topics created at start"
    )

    smtp_url: Annotated[AnyUrl, Dependency.SMTP] = Field(
        default=AnyUrl("smtp://127.0.0.1:1025"),
        description=(
            "The SMTP relay, smtp://host:port (smtps://host:465 for TLS from the first byte); "
            "locally the mail catcher"
        ),
    )
    smtp_security: SmtpSecurity = Field(
        default=SmtpSecurity.NONE,
        description=(
            "none (the local catcher), starttls (port 587) or tls (port 465, smtps://); "
            "production refuses none unless SMTP_ALLOW_PLAINTEXT"
        ),
    )
    smtp_allow_plaintext: bool = Field(
        default=False,
        description=(
            "Let production send without TLS: only to a relay on a private network no one "
            "else can join (docker compose's catcher)"
        ),
    )
    smtp_username: str = Field(default="", max_length=320)
    smtp_password: SecretStr = Field(default=SecretStr(""), description="With SMTP_USERNAME")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_from: str = Field(
        default="Ticketing <tickets@ticketing.localhost>",
        max_length=320,
        description="The From of every mail; its domain also names the Message-IDs",
    )
    shop_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8080"),
        description="The shop, for the links in mails (my bookings)",
    )
    entry_url: Annotated[AnyHttpUrl, Dependency.HTTP] = Field(
        default=AnyHttpUrl("http://127.0.0.1:8004"),
        description="Where the tickets' PDF is fetched (entry's internal API)",
    )
    entry_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    sender_concurrency: int = Field(
        default=16, ge=1, le=64, description="Mails one replica sends at once (rows it holds)"
    )
    sender_idle_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the sender looks for due mail when idle"
    )
    retry_initial_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="Wait before a failed mail's second attempt"
    )
    retry_max_seconds: float = Field(
        default=600.0, gt=0, le=86_400, description="Longest wait between attempts"
    )
    max_attempts: int = Field(
        default=30,
        ge=1,
        le=1000,
        description=(
            "Attempts before a mail is marked failed (an operator retries it); at the default "
            "backoff about 4 hours"
        ),
    )
    breaker_fail_max: int = Field(default=5, ge=1, le=1000)
    breaker_reset_seconds: float = Field(default=30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _smtp_is_consistent(self) -> Self:
        if self.smtp_url.scheme not in ("smtp", "smtps") or not self.smtp_url.host:
            raise ValueError("SMTP_URL must be smtp://host:port or smtps://host:port")
        if self.smtp_url.scheme == "smtps" and self.smtp_security is not SmtpSecurity.TLS:
            raise ValueError("SMTP_URL smtps:// means SMTP_SECURITY=tls")
        if bool(self.smtp_username) != bool(self.smtp_password.get_secret_value()):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD go together")
        if self.smtp_username and self.smtp_security is SmtpSecurity.NONE:
            raise ValueError("SMTP credentials are only sent over TLS (SMTP_SECURITY)")
        _, address = parseaddr(self.mail_from)
        if "@" not in address or not address.rsplit("@", 1)[1]:
            raise ValueError(f"MAIL_FROM {self.mail_from!r} has no address with a domain")
        if self.is_production:
            if self.smtp_security is SmtpSecurity.NONE and not self.smtp_allow_plaintext:
                raise ValueError(
                    "production needs SMTP_SECURITY=starttls or tls: mail carries tickets; set "
                    "SMTP_ALLOW_PLAINTEXT=true only for a relay on a private network"
                )
            if self.smtp_username and looks_like_placeholder(self.smtp_password.get_secret_value()):
                raise ValueError("SMTP_PASSWORD looks like a placeholder")
        return self

    @property
    def mail_domain(self) -> str:
        return parseaddr(self.mail_from)[1].rsplit("@", 1)[1]

    @property
    def smtp_port(self) -> int:
        if self.smtp_url.port is not None:
            return self.smtp_url.port
        return 465 if self.smtp_url.scheme == "smtps" else 587

    @property
    def consumed_topics(self) -> tuple[str, ...]:
        return (self.catalog_topic, self.booking_topic, self.inventory_topic)
