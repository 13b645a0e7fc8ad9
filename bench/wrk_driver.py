"""Runs wrk (Debian's, compiled C) with the Lua scripts in bench/wrk/ and reads its result.

wrk drives the platform and every HTTP baseline alike, so their figures compare; its
own CPU time is measured so a reader can see it is not the limit.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).parent / "wrk"
WRK_THREADS = 2
RESULT_MARKER = "WRK_JSON "
_COMMON = frozenset(
    {"duration_us", "requests", "bytes", "errors", "latency_us", "statuses", "sample"}
)


@dataclass
class WrkResult:
    connections: int
    wall_seconds: float
    requests: int
    statuses: dict[int, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]
    sample: list[str] = field(default_factory=list)
    # wrk's own user + system CPU time over the run (from the kernel when it exits).
    cpu_seconds: float = 0.0
    started_wall: float = 0.0
    # What a script adds to its result line beyond the fields every script prints.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.wall_seconds if self.wall_seconds else 0.0

    def rate_of(self, status: int) -> float:
        return self.statuses.get(status, 0) / self.wall_seconds if self.wall_seconds else 0.0

    def summary(self) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        return {
            "connections": self.connections,
            "seconds": self.wall_seconds,
            "requests": self.requests,
            "requests_per_second": self.requests_per_second,
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            "errors": self.errors,
            "latency": self.latency_ms,
            "generator_cpu": {
                "cpu_seconds": self.cpu_seconds,
                "percent_of_one_core": 100 * self.cpu_seconds / self.wall_seconds
                if self.wall_seconds
                else 0.0,
                "percent_of_machine": 100 * self.cpu_seconds / self.wall_seconds / cores
                if self.wall_seconds
                else 0.0,
            },
        }


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return found


def script(*parts: str) -> Path:
    """One Lua file made of bench/wrk/<part>.lua, in order (wrk loads a single script)."""
    text = "\n".join((SCRIPTS / f"{part}.lua").read_text() for part in parts)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  (kept for wrk, removed by the OS)
        "w", suffix=".lua", prefix="bench-wrk-", delete=False
    )
    with handle:
        handle.write(text)
    return Path(handle.name)


async def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    lua: Path | None = None,
    args: list[str] | None = None,
    timeout_seconds: int = 30,
    headers: dict[str, str] | None = None,
    threads: int | None = None,
) -> WrkResult:
    """`args` go to the Lua script; `headers` are sent with every request; `threads`
    defaults to WRK_THREADS (at most one per connection)."""
    return await asyncio.to_thread(
        _run_blocking,
        url,
        connections,
        seconds,
        lua,
        args or [],
        timeout_seconds,
        headers or {},
        min(threads or WRK_THREADS, connections),
    )


def _run_blocking(
    url: str,
    connections: int,
    seconds: float,
    lua: Path | None,
    args: list[str],
    timeout_seconds: int,
    headers: dict[str, str],
    threads: int,
) -> WrkResult:
    command = [
        require_wrk(),
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{timeout_seconds}s",
    ]
    if lua is None:
        lua = script("stats")
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(lua), url, "--", *args]
    with tempfile.TemporaryFile("w+") as output:
        started_wall = time.time()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        # wait4 reaps wrk and hands back its rusage: the CPU time of all its threads.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {text[-2000:]}")
    line = next((line for line in text.splitlines() if line.startswith(RESULT_MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result line: {text[-2000:]}")
    body = json.loads(line.removeprefix(RESULT_MARKER))
    measured = body["duration_us"] / 1e6
    return WrkResult(
        connections=connections,
        wall_seconds=measured,
        requests=int(body["requests"]),
        statuses={int(code): int(count) for code, count in body["statuses"].items()},
        errors={name: int(count) for name, count in body["errors"].items()},
        latency_ms={
            f"{name}_ms": float(value) / 1000 for name, value in body["latency_us"].items()
        },
        sample=list(body["sample"]),
        # Over the process's whole life (start-up and exit are a few ms of it).
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        started_wall=started_wall,
        extra={key: value for key, value in body.items() if key not in _COMMON},
    )
