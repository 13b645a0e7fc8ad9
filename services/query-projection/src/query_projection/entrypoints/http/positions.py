"""How far the read models have got."""

from __future__ import annotations

from fastapi import APIRouter, Request

from query_projection.application.views import PositionsView
from query_projection.entrypoints.http.deps import Queries

router = APIRouter(prefix="/internal/v1", tags=["projection"])


@router.get(
    "/positions",
    summary="Applied offset and producer position per topic-partition, and the lag",
    response_model=PositionsView,
)
async def positions(request: Request, queries: Queries) -> PositionsView:
    position_topics: tuple[str, ...] = request.app.state.position_topics
    return await queries.positions(position_topics)
