"""The simulator as a real process on its own test database, started once per session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from local_infra.ports import free_port
from local_infra.pytest_plugin import DatabaseFactory
from local_infra.secrets_env import random_secret

from .support import TIMEOUT_DELAY_SECONDS, RunningSimulator


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running_simulator(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSimulator]:
    port = free_port()
    secret_key = random_secret(32)
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "DATABASE_URL": await database_factory("payment_simulator"),
        "PAYMENT_SIMULATOR_SECRET_KEY": secret_key,
        "PAYMENT_SIMULATOR_TIMEOUT_DELAY_SECONDS": str(TIMEOUT_DELAY_SECONDS),
        "SHUTDOWN_GRACE_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    simulator = RunningSimulator(
        url=f"http://127.0.0.1:{port}",
        secret_key=secret_key,
        env=env,
        state_dir=tmp_path_factory.mktemp("payment-simulator"),
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def provider(running_simulator: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding the secret key; faults are cleared after each test."""
    async with running_simulator.client() as client:
        yield client
        await client.delete("/_sim/faults")
