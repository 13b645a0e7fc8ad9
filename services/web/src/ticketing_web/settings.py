from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, Field

from service_kit.settings import Dependency, ServiceSettings


class WebSettings(ServiceSettings):
    service_name: str = "web"
    http_port: int = Field(default=8080, ge=1, le=65535)
    gateway_url: Annotated[AnyHttpUrl, Dependency.HTTP] = AnyHttpUrl("http://127.0.0.1:8000")
    gateway_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Longer than the gateway's SSE ping (15 s), so an idle status stream is not cut.
    stream_read_timeout_seconds: float = Field(default=30.0, gt=15, le=600)
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark cookies Secure; unset: Secure when the request came over https "
        "(behind a proxy: trust it with FORWARDED_ALLOW_IPS) and always in production",
    )

    @property
    def gateway_base_url(self) -> str:
        return str(self.gateway_url).rstrip("/")
