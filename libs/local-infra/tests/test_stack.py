from __future__ import annotations

import signal

import httpx
import pytest

from local_infra.processes import is_alive
from local_infra.services import INVENTORY, SERVICE_SPECS
from local_infra.stack_state import StackInfo, load_state

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def _ready(url: str) -> int:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"{url}/health/ready")).status_code


async def test_every_service_runs_and_answers_ready(running_stack: StackInfo) -> None:
    assert set(running_stack.services) == set(SERVICE_SPECS)
    for process in running_stack.services.values():
        assert is_alive(process.pid)
        assert await _ready(process.url) == 200
    saved = load_state(running_stack.state_dir)
    assert saved is not None
    assert saved.gateway_url == running_stack.gateway_url


async def test_a_killed_service_can_be_started_again_on_its_port(
    running_stack: StackInfo,
) -> None:
    before = running_stack.services[INVENTORY]

    await running_stack.kill_service(INVENTORY, signal.SIGKILL)
    assert not is_alive(before.pid)

    after = await running_stack.start_service(INVENTORY)

    assert after.pid != before.pid
    assert after.port == before.port
    assert running_stack.pid(INVENTORY) == after.pid
    assert await _ready(after.url) == 200
