from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.errors import InsufficientCapacityError, NotFoundError
from service_kit.health import HealthRegistry
from service_kit.settings import ServiceSettings


def build_demo_app(health: HealthRegistry | None = None) -> FastAPI:
    """A tiny service built with the kit, the way every real service is built."""
    settings = ServiceSettings(service_name="demo")
    router = APIRouter()

    @router.get("/venues/{venue_id}")
    async def get_venue(venue_id: int) -> dict[str, int]:
        if venue_id == 404:
            raise NotFoundError(f"Venue {venue_id} not found")
        return {"id": venue_id}

    @router.post("/bookings")
    async def book(quantity: int) -> dict[str, int]:
        raise InsufficientCapacityError(
            f"Only 1 ticket left, {quantity} requested", extra={"available": 1}
        )

    @router.get("/explode")
    async def explode() -> None:
        raise RuntimeError("database password is hunter2")

    return create_service_app(
        settings,
        title="Demo",
        description="Demo service",
        health=health or health_registry_for(settings),
        routers=[router],
    )


@pytest.fixture
async def demo_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_demo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        yield client
