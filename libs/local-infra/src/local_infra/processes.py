"""Background processes tracked by PID files: spawn, probe, terminate, read logs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_STOP_GRACE_SECONDS = 10.0


def spawn_background(
    command: Sequence[str],
    *,
    log_path: Path,
    pid_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `command` detached from our terminal, output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        # A new session keeps Ctrl-C in the terminal that ran `make run` from
        # reaching the services, and lets us signal the whole process group.
        process = subprocess.Popen(  # noqa: S603 - the command is built by us, not a shell
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    pid_path.write_text(f"{process.pid}\n")
    return process.pid


def read_pid(pid_path: Path) -> int | None:
    try:
        return int(pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _reap_if_our_child(pid: int) -> None:
    # A child of this interpreter that exited stays a zombie (and looks alive to
    # kill(pid, 0)) until someone waits for it.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def is_alive(pid: int) -> bool:
    _reap_if_our_child(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def command_line(pid: int) -> str | None:
    """The process's command line, or None where /proc is unavailable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_running_as(pid: int, marker: str) -> bool:
    """Alive and, where /proc tells us, really the program we started (PIDs get reused)."""
    if not is_alive(pid):
        return False
    cmdline = command_line(pid)
    # Empty while the process is still in exec(); it is too early to tell.
    return not cmdline or marker in cmdline


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def terminate(pid: int, grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS) -> None:
    """SIGTERM, then SIGKILL if the process is still there after `grace_seconds`."""
    if not is_alive(pid):
        return
    _signal(pid, signal.SIGTERM)
    if wait_for_exit(pid, grace_seconds):
        return
    _signal(pid, signal.SIGKILL)
    wait_for_exit(pid, 5.0)


def kill_now(pid: int, signum: int = signal.SIGKILL) -> None:
    """Send one signal (default SIGKILL) and wait briefly for the process to go."""
    _signal(pid, signum)
    if signum in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
        wait_for_exit(pid, DEFAULT_STOP_GRACE_SECONDS)


def tail(path: Path, lines: int = 40) -> str:
    try:
        content = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(content.splitlines()[-lines:])
