"""The stack runs the payment provider simulator and tells the platform where it is."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from local_infra.services import BOOKING_COMMAND
from local_infra.stack_state import StackInfo

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def process_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode().partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


async def test_the_stack_runs_the_payment_simulator_for_booking_command(
    running_stack: StackInfo,
) -> None:
    async with httpx.AsyncClient(
        base_url=running_stack.payment_provider_url,
        headers=running_stack.payment_provider_headers(),
        timeout=10,
    ) as provider:
        ready = await provider.get("/health/ready")
        faults = await provider.get("/_sim/faults")
        charge = await provider.post(
            "/v1/payment_intents",
            json={"amount": 1500, "currency": "eur", "payment_method": "tok_visa"},
            headers={"Idempotency-Key": f"e2e-{uuid.uuid4()}"},
        )

    assert ready.status_code == 200
    assert faults.json()["down"] is False
    assert charge.status_code == 200
    assert charge.json()["status"] == "succeeded"
    environment = process_environment(running_stack.pid(BOOKING_COMMAND))
    assert environment["PAYMENT_PROVIDER_URL"] == running_stack.payment_provider_url
    assert environment["PAYMENT_PROVIDER_SECRET_KEY"] == running_stack.payment_provider_secret_key
