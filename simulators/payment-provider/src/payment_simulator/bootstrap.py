"""Wires the simulator: settings in, a FastAPI app with its ledger pool and faults out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from payment_simulator.api import (
    bearer_key_check,
    control_router,
    install_provider_errors,
    provider_router,
)
from payment_simulator.faults import FaultInjector, FaultMiddleware
from payment_simulator.ledger import PaymentLedger, open_pool
from payment_simulator.settings import PaymentSimulatorSettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.dependency_probes import postgres_pool_probe

DESCRIPTION = """A stand-in for an external card payment provider (PaymentIntents-style,
JSON bodies). Test tokens: tok_visa and tok_mastercard succeed, tok_chargeDeclined and
tok_insufficientFunds are declined (402), tok_timeout answers late, tok_providerError
fails (500). `/_sim/*` injects faults and shows the ledger; a real provider has neither."""


def build_app(settings: PaymentSimulatorSettings) -> FastAPI:
    health = health_registry_for(settings)
    ledger = PaymentLedger()
    faults = FaultInjector()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings.database_dsn, settings.database_pool_size)
        ledger.attach(pool)
        health.add("postgres", postgres_pool_probe(pool))
        try:
            yield
        finally:
            await pool.close()

    authenticated = bearer_key_check(settings)
    app = create_service_app(
        settings,
        title="Payment provider simulator",
        description=DESCRIPTION,
        health=health,
        routers=[
            provider_router(ledger, settings, authenticated),
            control_router(ledger, faults, authenticated),
        ],
        lifespan=lifespan,
    )
    install_provider_errors(app)
    app.add_middleware(FaultMiddleware, injector=faults)
    app.state.ledger = ledger
    app.state.faults = faults
    return app
