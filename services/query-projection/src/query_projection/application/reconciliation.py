"""The read models' side of the reconciliation after a restore of the event store: what
they show, and the facts the event store no longer holds, set aside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from query_projection.domain.set_aside import SetAside, SetAsideFacts
from ticketing_contracts.reconciliation import EventIds, ReadModelEvent


class ReconciliationReads(Protocol):
    async def event_ids(self) -> list[UUID]: ...

    async def highest_position(self) -> int | None: ...

    async def event(self, event_id: UUID) -> ReadModelEvent | None: ...

    async def set_aside(self) -> list[SetAside]: ...

    async def record_set_aside(self, entries: list[SetAside]) -> None: ...


class Reconciliation:
    """`set_aside` is the filter this process's projection applies (and a rebuild reads
    from the table): recorded first, then taken into the filter."""

    def __init__(self, reads: ReconciliationReads, set_aside: SetAsideFacts) -> None:
        self._reads = reads
        self._set_aside = set_aside

    async def events(self) -> EventIds:
        return EventIds(
            event_ids=await self._reads.event_ids(),
            highest_position=await self._reads.highest_position(),
        )

    async def event(self, event_id: UUID) -> ReadModelEvent | None:
        return await self._reads.event(event_id)

    async def set_aside_facts(self, entries: Sequence[SetAside]) -> int:
        await self._reads.record_set_aside(list(entries))
        self._set_aside.replace(entries)
        return len(entries)


async def load_set_aside(reads: ReconciliationReads, into: SetAsideFacts) -> SetAsideFacts:
    into.replace(await reads.set_aside())
    return into
