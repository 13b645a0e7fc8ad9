"""Wires the booking-command service: settings in, FastAPI app out."""

from __future__ import annotations

from fastapi import FastAPI

from booking_command.settings import BookingCommandSettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.dependency_probes import kafka_probe, postgres_probe


def build_app(settings: BookingCommandSettings) -> FastAPI:
    health = health_registry_for(settings)
    health.add("postgres", postgres_probe(settings.database_dsn))
    health.add("kafka", kafka_probe(settings.kafka_bootstrap_servers))
    return create_service_app(
        settings,
        title="Booking command service",
        description="Write side: event-sourced catalog and bookings (internal API).",
        health=health,
    )
