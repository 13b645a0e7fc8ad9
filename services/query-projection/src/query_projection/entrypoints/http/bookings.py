"""Bookings: status from Redis, details from PostgreSQL; a caller sees only their own unless
they are an admin (checked here as well as in the gateway)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from query_projection.application.views import (
    BookingCountsView,
    BookingFilters,
    BookingView,
    Page,
)
from query_projection.entrypoints.http.deps import (
    DEFAULT_PAGE_SIZE,
    ListConsistency,
    PageNumber,
    PageSize,
    Queries,
    ResourceConsistency,
    SignedInCaller,
)
from query_projection.entrypoints.http.responses import LIST, SINGLE, tagged_response
from service_kit.errors import ForbiddenError, NotFoundError
from service_kit.http_errors import error_responses
from ticketing_contracts.events import BookingStatus

router = APIRouter(prefix="/internal/v1", tags=["bookings"])


@router.get(
    "/bookings/{booking_id}",
    summary="Get a booking: status from Redis, details from PostgreSQL (includes owner_id)",
    description="Someone else's booking answers 404, unless the caller is an admin.",
    response_model=BookingView,
    responses=SINGLE,
)
async def get_booking(
    booking_id: UUID,
    request: Request,
    queries: Queries,
    consistency: ResourceConsistency,
    caller: SignedInCaller,
) -> Response:
    booking = await queries.booking(booking_id, consistency)
    if not caller.is_admin and booking.value.owner_id != caller.id:
        raise NotFoundError(f"Booking {booking_id} not found")
    return tagged_response(request, booking)


@router.get(
    "/bookings",
    summary="List bookings by owner, customer email, event and status; newest first",
    description=(
        "A caller who is not an admin sees only their own bookings and may not filter by "
        "another owner or by customer email (403)."
    ),
    response_model=Page[BookingView],
    responses={**LIST, **error_responses(403)},
)
async def list_bookings(
    request: Request,
    queries: Queries,
    consistency: ListConsistency,
    caller: SignedInCaller,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    customer_email: Annotated[str | None, Query(max_length=320)] = None,
    event_id: UUID | None = None,
    status: BookingStatus | None = None,
    page: PageNumber = 1,
    size: PageSize = DEFAULT_PAGE_SIZE,
) -> Response:
    if not caller.is_admin:
        if customer_email is not None or owner_id not in (None, caller.id):
            raise ForbiddenError("only admins may filter bookings by customer or another owner")
        owner_id = caller.id
    filters = BookingFilters(
        owner_id=owner_id, customer_email=customer_email, event_id=event_id, status=status
    )
    return tagged_response(request, await queries.bookings(filters, page, size, consistency))


@router.get(
    "/events/{event_id}/booking-counts",
    summary="How many bookings an event has in each status (managers and admins)",
    description=(
        "For the console's live sale view: counts only, no names or emails, so managers may "
        "see them too. An event without bookings answers zeros."
    ),
    response_model=BookingCountsView,
    responses={**LIST, **error_responses(403)},
)
async def booking_counts(
    event_id: UUID,
    request: Request,
    queries: Queries,
    consistency: ListConsistency,
    caller: SignedInCaller,
) -> Response:
    if caller.role not in ("admin", "manager"):
        raise ForbiddenError("only managers and admins may see an event's booking counts")
    return tagged_response(request, await queries.booking_counts(event_id, consistency))
