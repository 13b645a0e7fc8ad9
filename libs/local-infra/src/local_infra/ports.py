"""Loopback TCP port helpers."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (the OS picks it; a race is still possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """Nobody listens on `port`. Connections of a server that just exited (TIME_WAIT) do not
    count: a new server binds with SO_REUSEADDR, as the probe does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def preferred_or_free_port(preferred: int, host: str = LOOPBACK) -> int:
    """`preferred` when it is free, otherwise any free port; 0 always means any."""
    if preferred and is_port_free(preferred, host):
        return preferred
    return free_port(host)
