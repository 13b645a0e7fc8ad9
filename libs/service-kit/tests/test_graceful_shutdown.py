import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from local_infra.ports import free_port

SLOW_SERVICE = textwrap.dedent(
    """
    import asyncio
    import sys

    from fastapi import APIRouter

    from service_kit.app_factory import create_service_app, health_registry_for
    from service_kit.server import serve
    from service_kit.settings import ServiceSettings

    settings = ServiceSettings(
        service_name="slow", http_port=int(sys.argv[1]), shutdown_grace_seconds=10
    )
    router = APIRouter()

    @router.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(1.5)
        return {"finished": "yes"}

    app = create_service_app(settings, title="slow", description="slow", routers=[router],
                             health=health_registry_for(settings))
    serve(app, settings)
    """
)


def _wait_until_live(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60  # a loaded CI machine imports slowly
    while time.monotonic() < deadline:
        assert process.poll() is None, "service exited during start-up"
        try:
            if httpx.get(f"{base_url}/health/live", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("service did not become live")


@pytest.mark.integration
def test_sigterm_finishes_in_flight_requests_then_exits_cleanly(tmp_path: Path) -> None:
    script = tmp_path / "slow_service.py"
    script.write_text(SLOW_SERVICE)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,  # away from any .env a developer's `make run` left in the checkout
    )
    try:
        _wait_until_live(base_url, process)
        answers: list[httpx.Response] = []
        in_flight = threading.Thread(
            target=lambda: answers.append(httpx.get(f"{base_url}/slow", timeout=10))
        )
        in_flight.start()
        time.sleep(0.4)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base_url}/health/live", timeout=1)
        in_flight.join(timeout=10)
        # Uvicorn re-raises SIGTERM after draining, as the default handler would.
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
    assert answers
    assert answers[0].status_code == 200
    assert answers[0].json() == {"finished": "yes"}
    output = process.stdout.read().decode() if process.stdout else ""
    assert '"service": "slow"' in output
    assert "Application shutdown complete" in output
