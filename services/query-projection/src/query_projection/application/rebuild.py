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
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from query_projection.application.apply_batch import ApplyBatch
from query_projection.application.messages import ConsumedMessage
from query_projection.domain.positions import TopicPartition

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


class ReplaySource(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def fetch(self, timeout_ms: int) -> list[ConsumedMessage]: ...

    async def end_offsets(self) -> dict[TopicPartition, int]: ...

    async def positions(self) -> dict[TopicPartition, int]: ...


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
        source: ReplaySource,
        *,
        fetch_timeout_ms: int = 200,
    ) -> None:
        self._admin = admin
        self._hot = hot
        self._apply = apply_batch
        self._source = source
        self._fetch_timeout_ms = fetch_timeout_ms

    async def __call__(self, *, switch: bool = True) -> RebuildReport:
        started = time.monotonic()
        previous = await self._admin.active_generation()
        generation = await self._admin.create_generation()
        logger.info("rebuilding read models", extra={"generation": generation})
        await self._source.start()
        try:
            messages = await self._drain(generation, await self._source.end_offsets())
            dropped: list[int] = []
            if switch:
                async with self._admin.switch_lock() as lock:
                    messages += await self._drain(generation, await self._source.end_offsets())
                    await lock.switch(generation)
                await self._hot.set_pointer(generation)
                dropped = await self._admin.drop_generations(keep={generation, previous})
                for old in dropped:
                    await self._hot.drop_generation(old)
        finally:
            await self._source.stop()
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

    async def _drain(self, generation: int, ends: dict[TopicPartition, int]) -> int:
        applied = 0
        while not _reached(await self._source.positions(), ends):
            messages = await self._source.fetch(self._fetch_timeout_ms)
            if messages:
                await self._apply(messages, generation=generation, must_be_active=False)
                applied += len(messages)
        return applied


def _reached(positions: dict[TopicPartition, int], ends: dict[TopicPartition, int]) -> bool:
    return all(positions.get(key, 0) >= end for key, end in ends.items())
