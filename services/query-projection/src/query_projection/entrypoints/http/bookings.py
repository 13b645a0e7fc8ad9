"""Bookings: status from Redis, details from PostgreSQL."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from query_projection.application.views import BookingFilters, BookingView, Page
from query_projection.entrypoints.http.deps import (
    DEFAULT_PAGE_SIZE,
    ListConsistency,
    PageNumber,
    PageSize,
    Queries,
    ResourceConsistency,
)
from query_projection.entrypoints.http.responses import LIST, SINGLE, tagged_response
from ticketing_contracts.events import BookingStatus

router = APIRouter(prefix="/internal/v1", tags=["bookings"])


@router.get(
    "/bookings/{booking_id}",
    summary="Get a booking: status from Redis, details from PostgreSQL (includes owner_id)",
    response_model=BookingView,
    responses=SINGLE,
)
async def get_booking(
    booking_id: UUID, request: Request, queries: Queries, consistency: ResourceConsistency
) -> Response:
    return tagged_response(request, await queries.booking(booking_id, consistency))


@router.get(
    "/bookings",
    summary="List bookings by owner, customer email, event and status; newest first",
    response_model=Page[BookingView],
    responses=LIST,
)
async def list_bookings(
    request: Request,
    queries: Queries,
    consistency: ListConsistency,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    customer_email: Annotated[str | None, Query(max_length=320)] = None,
    event_id: UUID | None = None,
    status: BookingStatus | None = None,
    page: PageNumber = 1,
    size: PageSize = DEFAULT_PAGE_SIZE,
) -> Response:
    filters = BookingFilters(
        owner_id=owner_id, customer_email=customer_email, event_id=event_id, status=status
    )
    return tagged_response(request, await queries.bookings(filters, page, size, consistency))
