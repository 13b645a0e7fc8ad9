"""Reads that see the caller's own writes.

A command answer carries the position of its last stored event. The gateway
remembers the highest position per caller and passes it as `min_position` on
the caller's next reads, so the projection waits (bounded) until it has caught up.
A client may send a position as a hint; it must not be ahead of what was ever
acknowledged (else anyone could make every read wait for a position that never comes),
and anonymous reads ignore it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.application.ports import DownstreamResponse, QueryParams, ReadPositions
from gateway.domain.users import Caller
from service_kit.errors import InvalidInputError

logger = logging.getLogger(__name__)


class ReadPositionAhead(InvalidInputError):
    error_type = "read_position_ahead"


@dataclass(frozen=True)
class CommandOutcome:
    response: DownstreamResponse
    body: dict[str, Any]
    position: int | None

    @property
    def resource_id(self) -> str | None:
        value = self.body.get("id")
        return str(value) if value is not None else None


def _position_of(body: dict[str, Any]) -> int | None:
    position = body.get("position")
    if isinstance(position, int) and not isinstance(position, bool) and position >= 0:
        return position
    if isinstance(position, str) and position.isdigit():
        return int(position)
    return None


class ReadYourWrites:
    def __init__(self, positions: ReadPositions, wait_ms: int) -> None:
        self._positions = positions
        self._wait_ms = wait_ms

    async def record(self, caller: Caller, response: DownstreamResponse) -> CommandOutcome:
        [outcome] = await self.record_many([(caller, response)])
        return outcome

    async def record_many(
        self, answers: Sequence[tuple[Caller, DownstreamResponse]]
    ) -> list[CommandOutcome]:
        """Outcomes of several callers' writes; their positions stored in one go."""
        outcomes = []
        highest: dict[str, int] = {}
        for caller, response in answers:
            body = response.json() if response.content else {}
            if not isinstance(body, dict):
                body = {}
            position = _position_of(body)
            if position is not None:
                highest[caller.user_id] = max(position, highest.get(caller.user_id, 0))
            outcomes.append(CommandOutcome(response=response, body=body, position=position))
        if highest:
            try:
                await self._positions.remember_many(highest)
            except Exception:  # the write succeeded; a missed hint only costs freshness
                logger.warning("could not remember the read position", exc_info=True)
        return outcomes

    async def min_position(self, caller: Caller | None, hint: int | None) -> int | None:
        """The position a read must wait for: the caller's own writes, or a hint up to the
        highest position acknowledged to anyone. Anonymous reads never wait."""
        if caller is None:
            return None
        try:
            marks = await self._positions.marks(caller.user_id)
        except Exception:
            logger.warning("could not read the caller's read position", exc_info=True)
            return None
        if hint is not None and hint > marks.issued:
            raise ReadPositionAhead(
                f"Read position {hint} is ahead of every write acknowledged so far; "
                "send the X-Read-Position of a write's answer"
            )
        highest = max(marks.caller, hint or 0)
        return highest or None

    async def params(
        self, caller: Caller | None, hint: int | None, params: QueryParams | None = None
    ) -> dict[str, str | int | float | None]:
        merged: dict[str, str | int | float | None] = {
            key: value for key, value in (params or {}).items() if value is not None
        }
        position = await self.min_position(caller, hint)
        if position is not None:
            merged["min_position"] = position
            merged["wait_ms"] = self._wait_ms
        return merged
