"""Wires the inventory service: settings in, running subscribers and a FastAPI app out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
import httpx
from aiokafka import TopicPartition
from fastapi import FastAPI

from inventory.adapters import metrics
from inventory.adapters.booking_command import (
    Authorization,
    HttpBookingDirectory,
    no_service_credential,
)
from inventory.adapters.broker_epoch import republish_the_outbox
from inventory.adapters.catalog_progress import KafkaCatalogProgress
from inventory.adapters.outbox_relay import OutboxRelay
from inventory.adapters.postgres_repository import InventoryQueries, PostgresUnitOfWork
from inventory.adapters.postgres_schema import create_schema
from inventory.application.errors import CatalogNotCaughtUp, ConcurrencyConflict
from inventory.application.hold_tickets import HoldTickets
from inventory.application.process_batch import ProcessMessageBatch
from inventory.application.release_not_stored import ReleaseBookingsNotStored
from inventory.application.ticket_type_changes import AnswerTicketTypeChange, UnknownTicketType
from inventory.application.unclaimed_holds import ReleaseUnclaimedHolds
from inventory.application.waitlist import Waitlist
from inventory.domain.ledger import EntryNotFound, NoOpenOffer
from inventory.entrypoints.http import holds, reconciliation, waitlist
from inventory.entrypoints.http.stock import stock_router
from inventory.entrypoints.subscribers import SubscriberDependencies, is_transient, subscribe
from inventory.settings import InventorySettings
from service_kit.app_factory import create_service_app, health_registry_for, service_token_issuer
from service_kit.background import BackgroundTask, WokenRounds
from service_kit.broker_epoch import recover_from_broker_change
from service_kit.circuit_breakers import CircuitBreaker, breaker_probe, create_breaker
from service_kit.dead_letter_routes import dead_letter_router
from service_kit.dependency_probes import postgres_pool_probe, redis_probe
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka_topics import ensure_topics
from service_kit.postgres_broker_epoch import PostgresBrokerEpoch
from service_kit.redis_pool import redis_client
from ticketing_contracts import topics
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.internal_http import BOOKING_COMMAND

logger = logging.getLogger(__name__)


def booking_command_credential(settings: InventorySettings) -> Authorization:
    """Inventory's own token for booking-command, signed with SERVICE_TOKEN_PRIVATE_KEY."""
    issuer = service_token_issuer(settings)
    if issuer is None:
        return no_service_credential
    return lambda: issuer.service_authorization(BOOKING_COMMAND)


# A lost race, a lagging catalog, or a question answered "no such entry, offer or ticket
# type" says nothing about PostgreSQL's health.
NOT_POSTGRES_FAILURES: tuple[type[Exception], ...] = (
    ConcurrencyConflict,
    CatalogNotCaughtUp,
    EntryNotFound,
    NoOpenOffer,
    UnknownTicketType,
)


class InventoryRuntime:
    """Everything that runs in one inventory replica besides HTTP; start() then stop().

    `booking_command_authorization` is what the sweeper's questions to booking-command
    carry; by default a token signed with inventory's own key (`booking_command_credential`).
    """

    def __init__(
        self,
        settings: InventorySettings,
        *,
        booking_command_authorization: Authorization | None = None,
    ) -> None:
        self.settings = settings
        self.booking_command_authorization = (
            booking_command_authorization or booking_command_credential(settings)
        )
        redis_url = str(settings.redis_url) if settings.breaker_state_in_redis else None
        namespace = f"{settings.redis_key_prefix}{settings.service_name}:breaker:"
        self.postgres_breaker = create_breaker(
            "postgres",
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
            exclude=NOT_POSTGRES_FAILURES,
            redis_url=redis_url,
            redis_namespace=namespace,
        )
        self.producer_breaker = create_breaker(
            "kafka_producer",
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
            redis_url=redis_url,
            redis_namespace=namespace,
        )
        # Not shared through Redis: it only paces this replica's sweeper.
        self.booking_command_breaker = create_breaker(
            "booking_command",
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
        )
        self.pool: asyncpg.Pool | None = None
        self.http: httpx.AsyncClient | None = None
        self.relay: OutboxRelay | None = None
        self.relay_task: BackgroundTask | None = None
        self.kafka = KafkaRuntime(settings, is_transient=is_transient)
        self.kafka.publisher(
            settings.topic(topics.INVENTORY_EVENTS),
            message_type=EventEnvelope,
            description=(
                "Inventory's stock facts, keyed by the event (show) id: "
                "inventory.stock_changed, one per ticket type a transaction changed (a batch "
                "of holds or of booking facts, a sweep, a ticket type learned) with its stock "
                "after it; inventory.reservation_rejected only for a booking decided from its "
                "fact and refused; inventory.waitlist_offer_made when tickets are held for "
                "the next fan on a waitlist, inventory.waitlist_offer_ended when that offer is "
                "booked, declined, expires, the fan leaves or the event or type goes"
            ),
        )
        self.catalog_progress = KafkaCatalogProgress(
            timeout_seconds=settings.catalog_catch_up_seconds
        )
        process = ProcessMessageBatch(
            lambda: PostgresUnitOfWork(self._connected_pool()),
            self.catalog_progress,
            outcome_topic=settings.topic(topics.INVENTORY_EVENTS),
            producer=settings.service_name,
        )
        self.hold_tickets = HoldTickets(
            lambda: PostgresUnitOfWork(self._connected_pool()),
            self.catalog_progress,
            hold_for=timedelta(seconds=settings.hold_seconds),
            claim_within=timedelta(seconds=settings.unclaimed_hold_seconds),
            outcome_topic=settings.topic(topics.INVENTORY_EVENTS),
            producer=settings.service_name,
        )
        self.sweeper = WokenRounds(
            "unclaimed-hold sweeper",
            self._sweep_unclaimed_holds,
            idle_seconds=settings.unclaimed_hold_check_seconds,
        )
        self.waitlist = Waitlist(
            lambda: PostgresUnitOfWork(self._connected_pool()),
            offer_for=timedelta(seconds=settings.waitlist_offer_seconds),
            outcome_topic=settings.topic(topics.INVENTORY_EVENTS),
            producer=settings.service_name,
            round_size=settings.waitlist_offer_round_size,
        )
        self.answer_ticket_type_change = AnswerTicketTypeChange(
            lambda: PostgresUnitOfWork(self._connected_pool()),
            outcome_topic=settings.topic(topics.INVENTORY_EVENTS),
            producer=settings.service_name,
        )
        self.offer_step = WokenRounds(
            "waitlist offer step",
            self._make_offers,
            idle_seconds=settings.waitlist_offer_step_seconds,
        )
        self._release_unclaimed: ReleaseUnclaimedHolds | None = None
        self.release_not_stored: ReleaseBookingsNotStored | None = None
        self.booking_subscription, self.catalog_subscription = subscribe(
            self.kafka,
            settings,
            SubscriberDependencies(process, self.postgres_breaker, self._after_batch),
            self.stored_offsets,
        )
        self.catalog_progress.follow(self.catalog_subscription)

    @property
    def breakers(self) -> tuple[CircuitBreaker, CircuitBreaker]:
        return (self.postgres_breaker, self.producer_breaker)

    @property
    def queries(self) -> InventoryQueries:
        return InventoryQueries(self._connected_pool())

    def _connected_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("inventory runtime is not started")
        return self.pool

    async def stored_offsets(
        self, partitions: Collection[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        return await self.queries.next_offsets(partitions)

    def _wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    def _after_batch(self) -> None:
        """A batch of facts may have freed tickets (or ended a waitlist): offer them now."""
        self._wake_relay()
        self.offer_step.wake()

    async def _make_offers(self) -> bool:
        result = await self.waitlist.make_offers()
        if result.offers_made or result.offers_ended:
            metrics.WAITLIST_OFFERS.labels(outcome="made").inc(result.offers_made)
            metrics.WAITLIST_OFFERS.labels(outcome="ended").inc(result.offers_ended)
            self._wake_relay()
        return result.more

    async def _sweep_unclaimed_holds(self) -> bool:
        if self._release_unclaimed is None:
            raise RuntimeError("inventory runtime is not started")
        result = await self._release_unclaimed()
        if result.released:
            metrics.RELEASES.labels(reason="unclaimed").inc(result.released)
            self._wake_relay()
        if result.due:
            logger.info(
                "unclaimed holds settled",
                extra={"released": result.released, "claimed": result.claimed},
            )
        return result.more

    async def start(self) -> None:
        settings = self.settings
        await ensure_topics(
            settings,
            [
                settings.topic(name)
                for name in (
                    topics.BOOKING_EVENTS,
                    topics.CATALOG_EVENTS,
                    topics.INVENTORY_EVENTS,
                    topics.DEAD_LETTERS,
                )
            ],
        )
        self.pool = await asyncpg.create_pool(
            settings.database_dsn,
            min_size=1,
            max_size=settings.database_pool_size,
            timeout=5,
            command_timeout=10,
        )
        await create_schema(self.pool)
        epoch = PostgresBrokerEpoch(self.pool, on_adopt=republish_the_outbox)
        await recover_from_broker_change(settings, epoch)
        await self.kafka.start()
        self.relay = OutboxRelay(
            self.pool,
            self.kafka.publish,
            postgres_breaker=self.postgres_breaker,
            producer_breaker=self.producer_breaker,
            batch_size=settings.outbox_batch_size,
            idle_seconds=settings.outbox_idle_seconds,
            retry_initial_seconds=settings.retry_initial_seconds,
            retry_max_seconds=settings.retry_max_seconds,
        )
        self.relay_task = BackgroundTask("outbox relay", self.relay.run)
        self.relay_task.start()
        self.http = httpx.AsyncClient(timeout=settings.booking_command_timeout_seconds)
        directory = HttpBookingDirectory(
            str(settings.booking_command_url),
            self.http,
            self.booking_command_breaker,
            self.booking_command_authorization,
            attempts=settings.booking_command_retry_attempts,
        )
        self._release_unclaimed = ReleaseUnclaimedHolds(
            lambda: PostgresUnitOfWork(self._connected_pool()),
            directory,
            batch_size=settings.unclaimed_hold_batch,
            outcome_topic=settings.topic(topics.INVENTORY_EVENTS),
            producer=settings.service_name,
        )
        self.release_not_stored = ReleaseBookingsNotStored(
            lambda: PostgresUnitOfWork(self._connected_pool()),
            directory,
            outcome_topic=settings.topic(topics.INVENTORY_EVENTS),
            producer=settings.service_name,
        )
        if self.booking_command_authorization is no_service_credential:
            logger.warning(
                "SERVICE_TOKEN_PRIVATE_KEY is not set: booking-command refuses the "
                "unclaimed-hold sweeper's questions, so no unclaimed hold is released"
            )
        self.sweeper.task.start()
        self.offer_step.task.start()
        self.kafka.watch_broker(epoch, after_recovery=self._wake_relay_now)

    async def _wake_relay_now(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    async def probe(self) -> None:
        """Readiness of the Kafka side: subscribers and the outbox relay are running."""
        await self.kafka.probe()
        if self.relay_task is None:
            raise RuntimeError("the outbox relay is not started")
        await self.relay_task.probe()

    async def stop(self) -> None:
        await self.offer_step.task.stop()
        await self.sweeper.task.stop()
        if self.relay_task is not None:
            await self.relay_task.stop()
        with contextlib.suppress(Exception):
            await self.kafka.stop()
        if self.http is not None:
            with contextlib.suppress(Exception):
                await self.http.aclose()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5)
        self.http = None
        self._release_unclaimed = None
        self.release_not_stored = None
        self.relay_task = None
        self.relay = None
        self.pool = None


def build_app(
    settings: InventorySettings,
    *,
    booking_command_authorization: Authorization | None = None,
) -> FastAPI:
    runtime = InventoryRuntime(
        settings, booking_command_authorization=booking_command_authorization
    )
    redis = redis_client(str(settings.redis_url))
    health = health_registry_for(settings)

    async def postgres() -> None:
        if runtime.pool is None:
            raise RuntimeError("not connected yet")
        await postgres_pool_probe(runtime.pool)()

    health.add("postgres", postgres)

    async def kafka() -> None:
        await runtime.kafka.broker_probe()
        await runtime.probe()

    health.add("kafka", kafka)
    # Breakers decide in the process and only share through Redis: shown, never required.
    health.add("redis", redis_probe(redis), required=False)
    for breaker in runtime.breakers:
        health.add(f"circuit_breaker:{breaker.name}", breaker_probe(breaker))
    health.add("unclaimed-hold-sweeper", runtime.sweeper.task.probe)
    health.add("waitlist-offer-step", runtime.offer_step.task.probe)
    # booking-command down only delays releasing unclaimed holds: shown, still in rotation.
    health.add(
        "circuit_breaker:booking_command",
        breaker_probe(runtime.booking_command_breaker),
        required=False,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            await redis.aclose()

    waitlist_router, waitlist_service_router = waitlist.waitlist_routers(
        lambda: runtime.waitlist,
        lambda: runtime.answer_ticket_type_change,
        lambda: runtime.queries,
        runtime.postgres_breaker,
        after_commit=runtime._wake_relay,
    )
    return create_service_app(
        settings,
        title="Inventory service",
        description="Capacity reservation per event and ticket type (internal API).",
        health=health,
        routers=[
            waitlist_router,
            stock_router(lambda: runtime.queries),
            dead_letter_router(
                settings, settings.group_id(settings.consumer_group), lambda: runtime.kafka
            ),
        ],
        service_routers=[
            holds.holds_router(
                lambda: runtime.hold_tickets,
                runtime.postgres_breaker,
                max_batch=settings.hold_batch_max,
                after_commit=runtime._wake_relay,
            ),
            waitlist_service_router,
            reconciliation.reconciliation_router(
                lambda: runtime.queries,
                lambda: runtime.release_not_stored,
                after_commit=runtime._wake_relay,
            ),
        ],
        lifespan=lifespan,
        openapi_tags=[
            {"name": holds.TAG, "description": holds.TAG_DESCRIPTION},
            {"name": reconciliation.TAG, "description": reconciliation.TAG_DESCRIPTION},
            {"name": waitlist.TAG, "description": waitlist.TAG_DESCRIPTION},
        ],
    )
