"""The simulator run as a real process, for the integration tests."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from local_infra.health import wait_until_ready
from local_infra.processes import spawn_background, terminate

# Short, so a test can outwait a `tok_timeout` charge.
TIMEOUT_DELAY_SECONDS = 2.0


@dataclass
class RunningSimulator:
    url: str
    secret_key: str
    env: dict[str, str]
    state_dir: Path
    pid: int = 0

    @property
    def log_path(self) -> Path:
        return self.state_dir / "payment-simulator.log"

    async def start(self) -> None:
        self.pid = spawn_background(
            [sys.executable, "-m", "payment_simulator"],
            log_path=self.log_path,
            pid_path=self.state_dir / "payment-simulator.pid",
            env=self.env,
            cwd=self.state_dir,
        )
        await wait_until_ready(
            "payment-simulator", self.url, pid=self.pid, log_path=self.log_path, wait_seconds=30
        )

    def stop(self) -> None:
        terminate(self.pid, grace_seconds=10)

    async def restart(self) -> None:
        self.stop()
        await self.start()

    def client(self, *, secret_key: str | None = None, timeout: float = 10) -> httpx.AsyncClient:
        key = self.secret_key if secret_key is None else secret_key
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )
