from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class MailCatcherSettings(ServiceSettings):
    # Every process of a local stack gets the same environment (where SMTP_HOST and
    # SMTP_PORT are notifications' relay), so the catcher's own settings carry a
    # MAIL_CATCHER_ prefix; tests may also pass the field names.
    model_config = SettingsConfigDict(populate_by_name=True)

    service_name: str = "mail-catcher"
    http_port: int = 8025
    smtp_host: str = Field(
        default="127.0.0.1",
        validation_alias="MAIL_CATCHER_SMTP_HOST",
        description="Where the SMTP server listens",
    )
    smtp_port: int = Field(default=1025, ge=1, le=65535, validation_alias="MAIL_CATCHER_SMTP_PORT")
    mail_dir: Path = Field(
        default=Path(".run/mail"),
        validation_alias="MAIL_CATCHER_MAIL_DIR",
        description="Every caught message is written here as <id>.eml (kept across restarts)",
    )
    max_message_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        le=200 * 1024 * 1024,
        validation_alias="MAIL_CATCHER_MAX_MESSAGE_BYTES",
    )
