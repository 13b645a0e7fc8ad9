"""Wires the inventory service: settings in, FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from inventory.settings import InventorySettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.dependency_probes import kafka_probe, postgres_probe, redis_probe


def build_app(settings: InventorySettings) -> FastAPI:
    redis = Redis.from_url(str(settings.redis_url))
    health = health_registry_for(settings)
    health.add("postgres", postgres_probe(settings.database_dsn))
    health.add("redis", redis_probe(redis))
    health.add("kafka", kafka_probe(settings.kafka_bootstrap_servers))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    return create_service_app(
        settings,
        title="Inventory service",
        description="Capacity reservation per event and ticket type (internal API).",
        health=health,
        lifespan=lifespan,
    )
