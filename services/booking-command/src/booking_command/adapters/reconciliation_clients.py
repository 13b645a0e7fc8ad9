"""Inventory's and query-projection's reconciliation routes, called with booking-command's
own token (each accepts it on those routes only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

import aiohttp
from pydantic import BaseModel, ValidationError

from booking_command.application.ports import ReconciliationUnavailable
from ticketing_contracts.reconciliation import (
    EventIds,
    InventoryEvent,
    ReadModelEvent,
    ReleaseBookings,
    Releases,
    SetAside,
    SetAsideAnswer,
    SetAsideFacts,
)

BodyT = TypeVar("BodyT", bound=BaseModel)
PREFIX = "/internal/v1/reconciliation"


class _ReconciliationClient:
    def __init__(
        self,
        name: str,
        base_url: str,
        authorization: Callable[[], str],
        session: aiohttp.ClientSession,
    ) -> None:
        self._name = name
        self._base_url = base_url.rstrip("/") + PREFIX
        self._authorization = authorization
        self._session = session

    async def aclose(self) -> None:
        await self._session.close()

    async def _call(
        self,
        method: str,
        path: str,
        answer: type[BodyT],
        body: BaseModel | None = None,
        *,
        missing_is_none: bool = False,
    ) -> BodyT | None:
        headers = {"Authorization": self._authorization()}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = body.model_dump_json()
        try:
            async with self._session.request(
                method, self._base_url + path, headers=headers, data=data
            ) as response:
                content = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ReconciliationUnavailable(f"{self._name} did not answer: {error!r}") from None
        if status == 404 and missing_is_none:
            return None
        if status != 200:
            raise ReconciliationUnavailable(
                f"{self._name} answered {status} to {method} {path}: {content[:300]!r}"
            )
        try:
            return answer.model_validate_json(content)
        except ValidationError as error:
            raise ReconciliationUnavailable(f"{self._name}'s answer: {error}") from None


class HttpInventoryReconciliation(_ReconciliationClient):
    async def event_ids(self) -> list[UUID]:
        found = await self._call("GET", "/events", EventIds)
        assert found is not None
        return found.event_ids

    async def event(self, event_id: UUID) -> InventoryEvent | None:
        return await self._call("GET", f"/events/{event_id}", InventoryEvent, missing_is_none=True)

    async def release(self, booking_ids: Sequence[UUID]) -> Releases:
        answer = await self._call(
            "POST", "/releases", Releases, ReleaseBookings(booking_ids=list(booking_ids))
        )
        assert answer is not None
        return answer


class HttpReadModelReconciliation(_ReconciliationClient):
    async def events(self) -> EventIds:
        found = await self._call("GET", "/events", EventIds)
        assert found is not None
        return found

    async def event(self, event_id: UUID) -> ReadModelEvent | None:
        return await self._call("GET", f"/events/{event_id}", ReadModelEvent, missing_is_none=True)

    async def set_aside(self, facts: Sequence[SetAsideFacts]) -> int:
        answer = await self._call("PUT", "/set-aside", SetAsideAnswer, SetAside(facts=list(facts)))
        assert answer is not None
        return answer.set_aside
