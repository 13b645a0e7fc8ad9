"""Argon2id password hashing on a thread pool of its own, bounded in threads and waiting work.

Each running hash holds `memory_kib` of RAM for its whole run, so the number of workers,
not the number of requests, bounds the memory hashing can take: workers x memory_kib.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from service_kit.errors import DependencyUnavailableError

T = TypeVar("T")


class PasswordHashingBusyError(DependencyUnavailableError):
    error_type = "password_hashing_busy"


class BlockingPasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]: ...


class Argon2PasswordHasher:
    """Argon2id through pwdlib, one lane: a hash uses one core, not one per lane."""

    def __init__(self, *, time_cost: int = 2, memory_kib: int = 19_456) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1),)
        )

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether it matches, and a new hash when the stored one has other parameters."""
        try:
            return self._hash.verify_and_update(password, password_hash)
        except Exception:  # an unreadable stored hash never authenticates anyone
            return False, None


class BoundedPasswordHashing:
    """Runs a blocking hasher on `workers` threads with at most `queue_size` more waiting;
    anything beyond is refused at once (503 + Retry-After) without starting a hash."""

    def __init__(
        self,
        hasher: BlockingPasswordHasher,
        *,
        workers: int,
        queue_size: int,
        retry_after_seconds: int = 1,
    ) -> None:
        self._hasher = hasher
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-hash")
        self._capacity = workers + queue_size
        self._retry_after = retry_after_seconds
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Hashes running or waiting for a worker."""
        return self._admitted

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        return await self._run(self._hasher.verify, password, password_hash)

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        if self._admitted >= self._capacity:
            raise PasswordHashingBusyError(
                "Too many logins at once; try again shortly",
                retry_after_seconds=self._retry_after,
            )
        loop = asyncio.get_running_loop()
        self._admitted += 1
        future = self._executor.submit(work, *args)

        # Released when the work ends, not when the caller stops waiting: a disconnected
        # client's hash still runs and still holds its memory.
        def release(_: Future[T]) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._release)

        future.add_done_callback(release)
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
