"""CPU time of named process groups from /proc, read before and after a measured window."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")

Finder = Callable[[], set[int]]


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (all its threads), or None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which may hold spaces: state is the first.
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int((PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def tree(root: int) -> Finder:
    """The process and all its descendants (uvicorn workers, pools' helpers)."""

    def find() -> set[int]:
        children: dict[int, list[int]] = {}
        for pid in _pids():
            children.setdefault(_parent(pid), []).append(pid)
        found, todo = set(), [root]
        while todo:
            pid = todo.pop()
            if pid in found or not (PROC / str(pid)).exists():
                continue
            found.add(pid)
            todo.extend(children.get(pid, []))
        return found

    return find


def matching(*needles: str) -> Finder:
    """Processes whose command line holds every needle."""

    def find() -> set[int]:
        return {pid for pid in _pids() if all(needle in _cmdline(pid) for needle in needles)}

    return find


def postgres(databases: Iterable[str], *, backends_only: bool = False) -> Finder:
    """The postmaster, its auxiliary processes (WAL writer, checkpointer, ...) and the
    backends connected to `databases`; backends of other databases on the shared
    server (other people's tests) are left out. `backends_only`: just those backends
    (a party whose database shares the server, e.g. the payment simulator's)."""
    names = tuple(databases)

    def find() -> set[int]:
        found = set()
        for pid in _pids():
            try:
                comm = (PROC / str(pid) / "comm").read_text().strip()
            except OSError:
                continue
            if comm != "postgres" and not comm.startswith("postgres"):
                continue
            line = _cmdline(pid)
            # An autovacuum worker names its database like a backend: it works for that one.
            backend = "(" in line or "[local]" in line or "autovacuum worker" in line
            if (not backend and not backends_only) or (
                backend and any(name in line for name in names)
            ):
                found.add(pid)
        return found

    return find


@dataclass
class Snapshot:
    pids: dict[str, set[int]]
    seconds: dict[int, float]


class CpuMeter:
    """CPU seconds per group over a window: `start()`, the work, then `stop()`."""

    def __init__(self, groups: dict[str, Finder]) -> None:
        self.groups = groups
        self._start: Snapshot | None = None

    def _snapshot(self) -> Snapshot:
        pids = {name: find() for name, find in self.groups.items()}
        seconds: dict[int, float] = {}
        for members in pids.values():
            for pid in members:
                value = cpu_seconds(pid)
                if value is not None:
                    seconds[pid] = value
        return Snapshot(pids, seconds)

    def start(self) -> None:
        self._start = self._snapshot()

    def stop(self) -> dict[str, float]:
        if self._start is None:
            raise RuntimeError("CpuMeter.stop() before start()")
        end = self._snapshot()
        used: dict[str, float] = {}
        for name in self.groups:
            total = 0.0
            # A process started inside the window counts from zero; one that ended
            # inside it is lost (pools keep their connections, so that is rare).
            for pid in end.pids[name]:
                if pid in end.seconds:
                    total += end.seconds[pid] - self._start.seconds.get(pid, 0.0)
            used[name] = total
        return used


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, since boot (all cores)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS
