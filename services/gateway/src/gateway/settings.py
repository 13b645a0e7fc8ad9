from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, EmailStr, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from service_kit.settings import JwtSettings, RedisSettings


class GatewaySettings(JwtSettings, RedisSettings):
    service_name: str = "gateway"
    http_port: int = 8000
    booking_command_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    inventory_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    query_projection_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS"
    )
    admin_email: EmailStr | None = None
    admin_password: SecretStr | None = None
    downstream_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def downstream_services(self) -> dict[str, str]:
        return {
            "booking-command": str(self.booking_command_url).rstrip("/"),
            "inventory": str(self.inventory_url).rstrip("/"),
            "query-projection": str(self.query_projection_url).rstrip("/"),
        }
