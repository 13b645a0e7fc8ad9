"""Venues and events: commands to booking-command, queries to query-projection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from gateway.application.ports import Downstream, DownstreamResponse
from gateway.application.public_reads import CoalescedReads
from gateway.application.read_your_writes import CommandOutcome, ReadYourWrites
from gateway.domain.users import Caller
from ticketing_contracts.commands import (
    AddTicketType,
    CancelEvent,
    ChangeEventDetails,
    ChangeEventSaleTerms,
    ChangeSaleTerms,
    ChangeTicketType,
    CreateEvent,
    CreateVenue,
    RescheduleEvent,
    UpdateVenue,
)

VENUES = "/internal/v1/venues"
EVENTS = "/internal/v1/events"


@dataclass(frozen=True)
class Page:
    page: int = 1
    size: int = 20


@dataclass(frozen=True)
class EventFilters:
    q: str | None = None
    venue_id: uuid.UUID | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None
    status: str | None = None
    sort: str | None = None


@dataclass(frozen=True)
class ReadOptions:
    """How fresh a read must be and what the client already has."""

    position_hint: int | None = None
    if_none_match: str | None = None


def _body(command: BaseModel) -> bytes:
    return command.model_dump_json().encode()


class CatalogService:
    def __init__(
        self,
        commands: Downstream,
        queries: Downstream,
        read_your_writes: ReadYourWrites,
        public_reads: CoalescedReads | None = None,
    ) -> None:
        self._commands = commands
        self._queries = queries
        self._ryw = read_your_writes
        self._public_reads = public_reads or CoalescedReads(fresh_seconds=0)

    async def _command(
        self,
        caller: Caller,
        method: str,
        path: str,
        command: BaseModel | None,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        response = await self._commands.request(
            method,
            path,
            caller=caller,
            body=_body(command) if command is not None else None,
            idempotency_key=idempotency_key,
        )
        return await self._ryw.record(caller, response)

    async def _query(
        self,
        caller: Caller | None,
        path: str,
        options: ReadOptions,
        params: dict[str, str | int | float | None] | None = None,
    ) -> DownstreamResponse:
        if caller is None:
            # Anonymous reads never wait for a position: identical ones share one answer. It is
            # fetched without If-None-Match; the route answers 304 from its ETag.
            shared_params = {
                key: value for key, value in (params or {}).items() if value is not None
            }
            key = (path, tuple(sorted(shared_params.items())))
            return await self._public_reads.get(
                key, lambda: self._queries.request("GET", path, params=shared_params)
            )
        return await self._queries.request(
            "GET",
            path,
            caller=caller,
            params=await self._ryw.params(caller, options.position_hint, params),
            if_none_match=options.if_none_match,
        )

    # Venues

    async def create_venue(
        self, caller: Caller, command: CreateVenue, idempotency_key: str | None
    ) -> CommandOutcome:
        return await self._command(caller, "POST", VENUES, command, idempotency_key)

    async def update_venue(
        self, caller: Caller, venue_id: uuid.UUID, command: UpdateVenue
    ) -> CommandOutcome:
        return await self._command(caller, "PUT", f"{VENUES}/{venue_id}", command, None)

    async def delete_venue(self, caller: Caller, venue_id: uuid.UUID) -> CommandOutcome:
        return await self._command(caller, "DELETE", f"{VENUES}/{venue_id}", None, None)

    async def list_venues(
        self, caller: Caller | None, page: Page, options: ReadOptions
    ) -> DownstreamResponse:
        return await self._query(caller, VENUES, options, {"page": page.page, "size": page.size})

    async def venue(
        self, caller: Caller | None, venue_id: uuid.UUID, options: ReadOptions
    ) -> DownstreamResponse:
        return await self._query(caller, f"{VENUES}/{venue_id}", options)

    # Events

    async def create_event(
        self, caller: Caller, command: CreateEvent, idempotency_key: str | None
    ) -> CommandOutcome:
        return await self._command(caller, "POST", EVENTS, command, idempotency_key)

    async def change_event_details(
        self, caller: Caller, event_id: uuid.UUID, command: ChangeEventDetails
    ) -> CommandOutcome:
        return await self._command(caller, "PUT", f"{EVENTS}/{event_id}", command, None)

    async def add_ticket_type(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        command: AddTicketType,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/ticket-types"
        return await self._command(caller, "POST", path, command, idempotency_key)

    async def change_event_sale(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        command: ChangeEventSaleTerms,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/sale"
        return await self._command(caller, "PUT", path, command, idempotency_key)

    async def change_ticket_type_sale(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        ticket_type_id: uuid.UUID,
        command: ChangeSaleTerms,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/ticket-types/{ticket_type_id}/sale"
        return await self._command(caller, "PUT", path, command, idempotency_key)

    async def change_ticket_type(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        ticket_type_id: uuid.UUID,
        command: ChangeTicketType,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/ticket-types/{ticket_type_id}"
        return await self._command(caller, "PATCH", path, command, idempotency_key)

    async def remove_ticket_type(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        ticket_type_id: uuid.UUID,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/ticket-types/{ticket_type_id}"
        return await self._command(caller, "DELETE", path, None, idempotency_key)

    async def publish_event(
        self, caller: Caller, event_id: uuid.UUID, idempotency_key: str | None
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/publish"
        return await self._command(caller, "POST", path, None, idempotency_key)

    async def reschedule_event(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        command: RescheduleEvent,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/reschedule"
        return await self._command(caller, "POST", path, command, idempotency_key)

    async def cancel_event(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        command: CancelEvent,
        idempotency_key: str | None,
    ) -> CommandOutcome:
        path = f"{EVENTS}/{event_id}/cancel"
        return await self._command(caller, "POST", path, command, idempotency_key)

    async def list_events(
        self, caller: Caller | None, filters: EventFilters, page: Page, options: ReadOptions
    ) -> DownstreamResponse:
        params: dict[str, str | int | float | None] = {
            "q": filters.q,
            "venue_id": str(filters.venue_id) if filters.venue_id else None,
            "starts_after": filters.starts_after.isoformat() if filters.starts_after else None,
            "starts_before": filters.starts_before.isoformat() if filters.starts_before else None,
            "status": filters.status,
            "sort": filters.sort,
            "page": page.page,
            "size": page.size,
        }
        return await self._query(caller, EVENTS, options, params)

    async def popular_events(
        self, caller: Caller | None, limit: int, options: ReadOptions
    ) -> DownstreamResponse:
        return await self._query(caller, f"{EVENTS}/popular", options, {"limit": limit})

    async def event(
        self, caller: Caller | None, event_id: uuid.UUID, options: ReadOptions
    ) -> DownstreamResponse:
        return await self._query(caller, f"{EVENTS}/{event_id}", options)

    async def availability(
        self, caller: Caller | None, event_id: uuid.UUID, options: ReadOptions
    ) -> DownstreamResponse:
        return await self._query(caller, f"{EVENTS}/{event_id}/availability", options)
