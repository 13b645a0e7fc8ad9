"""Operator and test routes: the stock of a show as inventory holds it."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from inventory.adapters.postgres_repository import InventoryQueries
from service_kit.errors import NotFoundError
from service_kit.http_errors import error_responses


class TicketTypeStock(BaseModel):
    ticket_type_id: UUID
    quantity: int
    reserved: int
    sold: int
    available: int
    stock_version: int


class ShowStock(BaseModel):
    event_id: UUID
    status: str
    ticket_types: list[TicketTypeStock]


def stock_router(queries: Callable[[], InventoryQueries]) -> APIRouter:
    router = APIRouter(prefix="/internal/v1", tags=["stock"])

    @router.get(
        "/stock/{event_id}",
        summary="Stock per ticket type of one event",
        response_model=ShowStock,
        responses=error_responses(404, 503),
    )
    async def show_stock(event_id: UUID) -> ShowStock:
        show = await queries().show(event_id)
        if show is None:
            raise NotFoundError(f"Event {event_id} is not known to inventory")
        return ShowStock(
            event_id=show.event_id,
            status=show.status.value,
            ticket_types=[
                TicketTypeStock(
                    ticket_type_id=stock.ticket_type_id,
                    quantity=stock.quantity,
                    reserved=stock.reserved,
                    sold=stock.sold,
                    available=stock.available,
                    stock_version=stock.version,
                )
                for stock in show.ticket_types.values()
            ],
        )

    return router
