"""Wires the entry service: the only place that builds adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager

import asyncpg
from aiokafka import TopicPartition
from fastapi import FastAPI

from entry.adapters.broker_epoch import read_again_from_the_start
from entry.adapters.pdf import TicketPdf
from entry.adapters.postgres_facts import PostgresFacts
from entry.adapters.postgres_schema import ensure_schema
from entry.adapters.postgres_tickets import PostgresTickets
from entry.adapters.ticket_keys import TicketKeys
from entry.application.apply_facts import ApplyFacts
from entry.application.check_in import CheckIn
from entry.application.door_staff import DoorStaffAssignments
from entry.application.messages import DecodedFact
from entry.application.tickets import BookingTicketsQueries, ReissueTicket
from entry.entrypoints.http.router import OPENAPI_TAGS, router, service_router
from entry.entrypoints.subscribers import subscribe_facts
from entry.settings import EntrySettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.broker_epoch import recover_from_broker_change
from service_kit.dead_letter_routes import dead_letter_router
from service_kit.dependency_probes import postgres_pool_probe
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka.subscription import Subscription
from service_kit.kafka_topics import ensure_topics
from service_kit.postgres_broker_epoch import PostgresBrokerEpoch


class Entry:
    """Every long-lived object of the service, started and stopped together."""

    def __init__(self, settings: EntrySettings) -> None:
        self.settings = settings
        self.runtime = KafkaRuntime(settings)
        self.keys = TicketKeys(settings.ticket_signing_secret.get_secret_value().encode())
        self._pool: asyncpg.Pool | None = None
        self._apply_facts: ApplyFacts | None = None
        self.subscription: Subscription[DecodedFact] = subscribe_facts(
            self.runtime, settings, self.apply_facts, self.stored_offsets
        )

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    def apply_facts(self) -> ApplyFacts:
        if self._apply_facts is None:
            raise RuntimeError("the service has not started")
        return self._apply_facts

    async def stored_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        return await PostgresFacts(self.pool).next_offsets(partitions)

    async def start(self) -> None:
        settings = self.settings
        self._pool = await asyncpg.create_pool(
            settings.database_dsn, min_size=1, max_size=settings.database_pool_size
        )
        await ensure_schema(self.pool)
        await ensure_topics(
            settings,
            (*settings.consumed_topics, settings.dead_letter_topic),
            partitions=settings.topic_partitions,
        )
        self._apply_facts = ApplyFacts(PostgresFacts(self.pool))
        epoch = PostgresBrokerEpoch(self.pool, on_adopt=read_again_from_the_start)
        await recover_from_broker_change(settings, epoch)
        await self.runtime.start()
        self.runtime.watch_broker(epoch)

    async def stop(self) -> None:
        if self.runtime.started:
            await self.runtime.stop()
        if self._pool is not None:
            await self._pool.close()

    async def caught_up(self) -> None:
        """Readiness: the subscriber has partitions and is not behind for longer than the
        bound (a ticket list asked for right after a confirmation would answer 404)."""
        await self.runtime.probe()
        if not self.subscription.ever_assigned:
            raise RuntimeError("waiting for the consumer group to assign partitions")
        lag = self.subscription.lag_seconds()
        if lag > self.settings.readiness_max_lag_seconds:
            raise RuntimeError(
                f"behind for {lag:.1f}s (bound {self.settings.readiness_max_lag_seconds:g}s)"
            )


def serve_use_cases(
    app: FastAPI, pool: asyncpg.Pool, keys: TicketKeys, settings: EntrySettings
) -> None:
    """The routes' use cases, on the service's database and ticket keys."""
    store = PostgresTickets(pool)
    pdf = TicketPdf(settings.ticket_pdf_font)
    app.state.booking_tickets = BookingTicketsQueries(store, keys, pdf)
    app.state.reissue = ReissueTicket(store, keys)
    app.state.check_in = CheckIn(store, keys)
    app.state.door_staff = DoorStaffAssignments(store)


def build_app(settings: EntrySettings) -> FastAPI:
    service = Entry(settings)
    health = health_registry_for(settings)

    async def postgres() -> None:
        await postgres_pool_probe(service.pool)()

    health.add("postgres", postgres)
    health.add("kafka", service.runtime.broker_probe)
    health.add("caught_up", service.caught_up)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        serve_use_cases(app, service.pool, service.keys, settings)
        try:
            yield
        finally:
            await service.stop()

    app = create_service_app(
        settings,
        title="Entry service",
        description=(
            "Tickets and check-in: issues signed tickets from confirmed bookings, voids them "
            "on cancellations and refunds, re-issues them, and checks them in at the door "
            "(online, and synced from offline scanners)."
        ),
        health=health,
        routers=[
            router,
            dead_letter_router(
                settings, settings.group_id(settings.consumer_group), lambda: service.runtime
            ),
        ],
        service_routers=[service_router],
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.service = service
    return app
