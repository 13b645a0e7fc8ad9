"""Rebuild the read models from the beginning of the topics without downtime.

A new generation (PostgreSQL schema + Redis namespace) is filled from offset 0
while queries keep being served from the active one. Once it has caught up, the
live projection is held off for a final drain and the pointer is switched in one
transaction: queries move over atomically and the live consumer continues on the
new generation from its recorded offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from query_projection.application.apply_batch import ApplyBatch
from query_projection.application.messages import ProjectedBatch

logger = logging.getLogger(__name__)


class GenerationSwitch(Protocol):
    async def switch(self, generation: int) -> None: ...


class GenerationAdmin(Protocol):
    async def active_generation(self) -> int: ...

    async def create_generation(self) -> int: ...

    def switch_lock(self) -> AbstractAsyncContextManager[GenerationSwitch]:
        """Holds off the live projection (and any other switch) until it exits."""
        ...

    async def drop_generations(self, keep: set[int]) -> list[int]: ...


class HotGenerations(Protocol):
    async def set_pointer(self, generation: int) -> None: ...

    async def drop_generation(self, generation: int) -> int: ...


class Replay(Protocol):
    async def read_to_end(self, handle: Callable[[ProjectedBatch], Awaitable[None]]) -> int:
        """Hands every partition's messages from where it stands up to the current end."""
        ...


ReplaySource = Callable[[], AbstractAsyncContextManager[Replay]]


@dataclass(frozen=True)
class RebuildReport:
    generation: int
    previous_generation: int
    messages: int
    seconds: float
    switched: bool
    dropped_generations: tuple[int, ...] = ()


class RebuildReadModels:
    def __init__(
        self,
        admin: GenerationAdmin,
        hot: HotGenerations,
        apply_batch: ApplyBatch,
        replay: ReplaySource,
    ) -> None:
        self._admin = admin
        self._hot = hot
        self._apply = apply_batch
        self._replay = replay

    async def __call__(self, *, switch: bool = True) -> RebuildReport:
        started = time.monotonic()
        previous = await self._admin.active_generation()
        generation = await self._admin.create_generation()
        logger.info("rebuilding read models", extra={"generation": generation})

        async def apply(batch: ProjectedBatch) -> None:
            await self._apply(batch, generation=generation, must_be_active=False)

        async with self._replay() as replay:
            messages = await replay.read_to_end(apply)
            dropped: list[int] = []
            if switch:
                async with self._admin.switch_lock() as lock:
                    messages += await replay.read_to_end(apply)
                    await lock.switch(generation)
                await self._hot.set_pointer(generation)
                dropped = await self._admin.drop_generations(keep={generation, previous})
                for old in dropped:
                    await self._hot.drop_generation(old)
        report = RebuildReport(
            generation=generation,
            previous_generation=previous,
            messages=messages,
            seconds=round(time.monotonic() - started, 3),
            switched=switch,
            dropped_generations=tuple(dropped),
        )
        logger.info("read models rebuilt", extra={"report": report.__dict__})
        return report
