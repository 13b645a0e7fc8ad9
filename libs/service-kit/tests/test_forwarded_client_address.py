import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from local_infra.ports import free_port

WHO_AM_I_SERVICE = textwrap.dedent(
    """
    import sys

    from fastapi import APIRouter, Request

    from service_kit.app_factory import create_service_app, health_registry_for
    from service_kit.server import serve
    from service_kit.settings import ServiceSettings

    settings = ServiceSettings(service_name="who", http_port=int(sys.argv[1]))
    router = APIRouter()

    @router.get("/who")
    async def who(request: Request) -> dict[str, str]:
        return {"client": request.client.host if request.client else "unknown"}

    app = create_service_app(settings, title="who", description="who", routers=[router],
                             health=health_registry_for(settings))
    serve(app, settings)
    """
)


def _client_seen(tmp_path: Path, forwarded_allow_ips: str) -> str:
    script = tmp_path / "who_service.py"
    script.write_text(WHO_AM_I_SERVICE)
    port = free_port()
    env = {**os.environ, "FORWARDED_ALLOW_IPS": forwarded_allow_ips}
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/who",
                    headers={"X-Forwarded-For": "203.0.113.9"},
                    timeout=1,
                )
                return str(response.json()["client"])
            except httpx.TransportError:
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.integration
def test_the_forwarded_client_address_is_used_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    assert _client_seen(tmp_path, forwarded_allow_ips="") == "127.0.0.1"
    assert _client_seen(tmp_path, forwarded_allow_ips="127.0.0.0/8") == "203.0.113.9"
