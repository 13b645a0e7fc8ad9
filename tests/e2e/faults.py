"""Faults for the chaos tests that local_infra's Stack does not inject itself."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from local_infra.tcp_proxy import TcpProxy

T = TypeVar("T")


class PostgresOutage:
    """The chaos stack's services reach PostgreSQL only through this TCP proxy.

    `cut()` is our "PostgreSQL restart": every open connection is dropped and new ones
    are refused until `restore()`, as while a server restarts. The machine's PostgreSQL
    is shared with other work, so the real server is never restarted. The proxy runs on
    its own thread and event loop so the test's HTTP load cannot starve the services'
    database traffic.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._proxy = TcpProxy(target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="postgres-proxy", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._proxy.port

    async def _on_proxy_loop(self, action: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await action()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self._loop))

    async def start(self) -> None:
        await self._on_proxy_loop(self._proxy.start)

    async def cut(self) -> None:
        await self._on_proxy_loop(self._proxy.cut)

    async def restore(self) -> None:
        await self._on_proxy_loop(self._proxy.restore)

    async def close(self) -> None:
        await self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 5)
        self._loop.close()
