"""The operators' console: a live sale (managers and admins); platform health and dead
letters (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Self

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field, model_validator

from gateway.entrypoints.http.deps import (
    API_PREFIX,
    Admin,
    DefaultRateLimit,
    SalesWatcher,
    Services,
)
from gateway.entrypoints.http.schemas import Document
from service_kit.http_errors import error_responses

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"], dependencies=[DefaultRateLimit])

CONSUMING_SERVICES = ("booking-command", "inventory", "query-projection", "entry")


class CheckOut(Document):
    status: str | None = Field(examples=["up"])
    error: str | None = None


class ServiceHealthOut(Document):
    name: str = Field(examples=["inventory"])
    ready: bool
    checks: dict[str, CheckOut] = {}
    error: str | None = Field(default=None, description="Why the service could not be asked")
    consumer_lag: int | None = Field(default=None, description="Messages not yet processed")
    consumer_lag_by_topic: dict[str, int] = {}
    outbox_pending: int | None = Field(default=None, description="Stored, not yet published")
    breakers: dict[str, str] = Field(default={}, examples=[{"booking-command": "closed"}])
    dead_lettered_since_start: int | None = None
    projection_lag_seconds_mean: float | None = Field(
        default=None, description="Mean time from an event to the read models, since start"
    )


class PlatformHealthOut(BaseModel):
    checked_at: str
    all_ready: bool
    services: list[ServiceHealthOut]


class TicketTypeSaleOut(BaseModel):
    ticket_type_id: uuid.UUID
    name: str
    quantity: int
    sold: int
    reserved: int
    available: int
    sold_out: bool


class SaleOut(BaseModel):
    event_id: uuid.UUID
    name: str
    status: str
    observed_at: str
    sold_out: bool
    ticket_types: list[TicketTypeSaleOut]
    bookings: dict[str, int] = Field(
        description="Bookings of the event per status",
        examples=[{"PENDING": 0, "CONFIRMED": 10, "REJECTED": 3, "CANCELLED": 0, "EXPIRED": 0}],
    )


class DeadLetterOut(Document):
    dead_letter: str = Field(examples=["0@12"])
    original: str = Field(examples=["booking.events[3]@1041"])
    consumer_group: str | None
    error: str
    key: str | None
    value: str
    redriven: bool


class ServiceDeadLettersOut(Document):
    service: str
    consumer_group: str | None = None
    topic: str | None = None
    pending: int
    dead_letters: list[DeadLetterOut]
    error: str | None = Field(default=None, description="Why the service could not be asked")


class RedriveIn(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=10_000, description="All pending if unset")
    dead_letter: str | None = Field(
        default=None,
        pattern=r"^\d{1,9}@\d{1,19}$",
        description="Only this dead letter: its `dead_letter` id from the list (not with limit)",
        examples=["0@12"],
    )

    @model_validator(mode="after")
    def _one_or_oldest(self) -> Self:
        if self.dead_letter is not None and self.limit is not None:
            raise ValueError("give either dead_letter or limit, not both")
        return self


class RedriveOut(Document):
    service: str
    consumer_group: str
    redriven: list[DeadLetterOut]


ConsumingService = Annotated[
    str,
    Path(pattern=r"^(booking-command|inventory|query-projection|entry)$", examples=["inventory"]),
]


@router.get(
    "/health",
    response_model=PlatformHealthOut,
    summary="Each service's readiness, consumer and projection lag, breaker states (admin)",
    responses=error_responses(401, 403, 429),
)
async def platform_health(_: Admin, services: Services) -> dict[str, Any]:
    return await services.operations.platform_health()


@router.get(
    "/events/{event_id}/sale",
    response_model=SaleOut,
    summary="A sale as it happens: sold and reserved per ticket type, bookings per status "
    "(managers and admins)",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
async def sale(event_id: uuid.UUID, caller: SalesWatcher, services: Services) -> dict[str, Any]:
    return await services.operations.sale(caller, event_id)


@router.get(
    "/dead-letters",
    response_model=list[ServiceDeadLettersOut],
    summary="Dead letters of every consuming service, oldest first (admin)",
    responses=error_responses(401, 403, 429, 503),
)
async def dead_letters(caller: Admin, services: Services) -> list[dict[str, Any]]:
    return await services.operations.dead_letters(caller)


@router.post(
    "/dead-letters/{service}/redrive",
    response_model=RedriveOut,
    summary="Send a service's pending dead letters back to their topics, once each (admin)",
    description="The same as `python -m <service> dead-letters redrive`: oldest first, up to "
    "`limit`, or only the one named by `dead_letter` (404 if the service has no such dead "
    "letter, 409 if it was already re-driven); what was re-driven is remembered, so it is "
    "never sent twice.",
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
)
async def redrive(
    service: ConsumingService,
    caller: Admin,
    services: Services,
    body: Annotated[RedriveIn | None, Body()] = None,
) -> dict[str, Any]:
    request = body or RedriveIn()
    return await services.operations.redrive(
        caller, service, limit=request.limit, dead_letter=request.dead_letter
    )
