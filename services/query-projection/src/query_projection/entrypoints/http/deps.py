"""Dependencies shared by the query routes: the caller, the queries, read-your-writes waits
and paging. Every route already requires a valid gateway token (the kit's app factory)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from query_projection.application.queries import Consistency, ReadModelQueries
from service_kit.errors import UnauthorizedError
from service_kit.internal_auth import Caller, InternalCaller

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


# Dependencies are `async def`: FastAPI runs a plain `def` one on a worker thread per request.
async def get_queries(request: Request) -> ReadModelQueries:
    queries: ReadModelQueries = request.app.state.queries
    return queries


Queries = Annotated[ReadModelQueries, Depends(get_queries)]


async def signed_in_caller(caller: InternalCaller) -> Caller:
    """Bookings carry names and emails: only for a person the gateway's token names."""
    if caller.id is None or caller.role == "service":
        raise UnauthorizedError("a signed-in caller is required")
    return caller


SignedInCaller = Annotated[Caller, Depends(signed_in_caller)]


def _wait_bound(request: Request) -> int:
    return int(request.app.state.settings.max_wait_ms)


async def list_consistency(
    request: Request,
    min_position: Annotated[
        int | None,
        Query(ge=0, description="Wait until the read models have applied this command position"),
    ] = None,
    wait_ms: Annotated[
        int | None,
        Query(ge=0, description="How long to wait for min_position/min_version (capped)"),
    ] = None,
) -> Consistency:
    bound = _wait_bound(request)
    return Consistency(
        min_position=min_position, wait_ms=bound if wait_ms is None else min(wait_ms, bound)
    )


async def resource_consistency(
    consistency: Annotated[Consistency, Depends(list_consistency)],
    min_version: Annotated[
        int | None, Query(ge=0, description="Wait until the resource has this version")
    ] = None,
) -> Consistency:
    return Consistency(
        min_position=consistency.min_position, min_version=min_version, wait_ms=consistency.wait_ms
    )


ListConsistency = Annotated[Consistency, Depends(list_consistency)]
ResourceConsistency = Annotated[Consistency, Depends(resource_consistency)]
PageNumber = Annotated[int, Query(ge=1, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
