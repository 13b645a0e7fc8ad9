"""Helpers for driving the running platform through its public API only."""

import asyncio
import time

import httpx

from local_infra.stack_state import StackInfo

PASSWORD = "Sturdy-Horse-42"


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def admin_headers(client: httpx.AsyncClient, stack: StackInfo) -> dict[str, str]:
    return await login(client, stack.shared_env["ADMIN_EMAIL"], stack.shared_env["ADMIN_PASSWORD"])


async def wait_until_ready(base_url: str, within_seconds: float = 60) -> httpx.Response:
    """A restarted service rejoins its consumer group before it reports ready again."""
    deadline = time.monotonic() + within_seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while True:
            response = await client.get("/health/ready")
            if response.status_code == 200 or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.5)
