from __future__ import annotations

from pydantic import Field, PostgresDsn, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from service_kit.settings import PostgresSettings, looks_like_placeholder

MIN_SECRET_KEY_LENGTH = 24


class PaymentSimulatorSettings(PostgresSettings):
    # Every process of a local stack gets the same environment, so the simulator's own
    # settings carry a PAYMENT_SIMULATOR_ prefix; tests may also pass the field names.
    model_config = SettingsConfigDict(populate_by_name=True)

    service_name: str = "payment-simulator"
    http_port: int = 8010
    database_url: PostgresDsn = PostgresDsn(
        "postgresql://postgres@127.0.0.1:5432/payment_simulator"
    )
    secret_key: SecretStr = Field(
        validation_alias="PAYMENT_SIMULATOR_SECRET_KEY",
        description=(
            "The key every /v1 and /_sim call must carry as `Authorization: Bearer <key>`; "
            f"at least {MIN_SECRET_KEY_LENGTH} random characters"
        ),
    )
    timeout_delay_seconds: float = Field(
        default=30.0,
        ge=0,
        le=600,
        validation_alias="PAYMENT_SIMULATOR_TIMEOUT_DELAY_SECONDS",
        description="How long a `tok_timeout` charge waits before answering",
    )

    @field_validator("secret_key")
    @classmethod
    def _key_is_strong(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_KEY_LENGTH} characters (got {len(key)}); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if any(character.isspace() for character in key):
            raise ValueError("must not contain whitespace")
        if looks_like_placeholder(key):
            raise ValueError("looks like a placeholder; generate a random key")
        return value
