"""Wires the booking-command service: settings and adapters in, FastAPI app out.

The only module that knows every part; the others receive what they need. Everything
with I/O comes in as `BookingCommandAdapters`: `production_adapters` builds the real ones
from the settings, tests pass their own (in-memory store, fakes) explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from fastapi import FastAPI

from booking_command.adapters.broker_epoch import EventStoreBrokerEpoch
from booking_command.adapters.event_store import postgres_environment
from booking_command.adapters.event_store_bookings import EventStoreBookings
from booking_command.adapters.inventory import HttpInventory
from booking_command.adapters.metrics import (
    DUE_PAYMENTS_POSTPONED,
    EVENT_CANCELLATION_BOOKINGS,
    GROUP_COMMIT_BATCH_SIZE,
    HOLDS_EXPIRED,
    PAYMENTS,
)
from booking_command.adapters.outbox_relay import OutboxRelay
from booking_command.adapters.payment_provider import HttpPaymentProvider
from booking_command.adapters.public_events import OutboxMapper, is_published
from booking_command.adapters.reconciliation_clients import (
    HttpInventoryReconciliation,
    HttpReadModelReconciliation,
)
from booking_command.adapters.relay_leadership import RelayLeadership
from booking_command.application.app import BookingCommandApplication, utc_now
from booking_command.application.event_cancellations import (
    CascadeReport,
    EventCancellationWorker,
)
from booking_command.application.executor import EventStoreExecutor
from booking_command.application.group_commit import GroupCommitter
from booking_command.application.handlers import command_handlers
from booking_command.application.hold_expiry import HoldExpiryWorker
from booking_command.application.message_bus import (
    AskInventory,
    ConflictRetries,
    GroupCommit,
    HoldTickets,
    IdempotentReplays,
    MessageBus,
)
from booking_command.application.payment_worker import PaymentWorker, PaymentWorkerOptions
from booking_command.application.ports import Inventory, PaymentProvider
from booking_command.application.reads import WriteSideReads
from booking_command.application.reconciliation import Reconcile
from booking_command.entrypoints.http import bookings, events, known_bookings, venues
from booking_command.settings import BookingCommandSettings
from service_kit.app_factory import (
    create_service_app,
    health_registry_for,
    service_token_issuer,
)
from service_kit.broker_epoch import recover_from_broker_change
from service_kit.circuit_breakers import CircuitBreaker, breaker_probe, create_breaker
from service_kit.health import Probe
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka_topics import ensure_topics
from ticketing_contracts import topics
from ticketing_contracts.envelope import EventEnvelope

logger = logging.getLogger(__name__)

OPENAPI_TAGS = [
    {"name": "venues", "description": "Venue commands (admins and managers, via the gateway)"},
    {"name": "events", "description": "Event and ticket-type commands"},
    {"name": "bookings", "description": "Booking commands (any signed-in caller)"},
]

FINAL_OUTBOX_ROUND_SECONDS = 5.0
PAYMENT_PROVIDER = "payment-provider"
INVENTORY = "inventory"
QUERY_PROJECTION = "query-projection"


def shared_breaker(
    settings: BookingCommandSettings,
    name: str,
    *,
    fail_max: int,
    reset_timeout_seconds: float,
) -> CircuitBreaker:
    """A breaker on one of booking-command's HTTP dependencies whose state lives in Redis,
    so every replica sees it open or closed alike."""
    return create_breaker(
        name,
        fail_max=fail_max,
        reset_timeout_seconds=reset_timeout_seconds,
        redis_url=str(settings.redis_url),
        redis_namespace=f"{settings.redis_key_prefix}booking-command:breaker:",
    )


def inventory_client(settings: BookingCommandSettings) -> HttpInventory:
    """Inventory's hold call and ticket type question under a breaker whose state every
    replica shares."""
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=settings.inventory_connect_timeout_seconds,
            sock_read=settings.inventory_timeout_seconds,
        ),
    )
    breaker = shared_breaker(
        settings,
        INVENTORY,
        fail_max=settings.inventory_breaker_fail_max,
        reset_timeout_seconds=settings.inventory_breaker_reset_seconds,
    )
    tokens = service_token_issuer(settings)
    return HttpInventory(
        str(settings.inventory_url),
        (lambda: tokens.service_authorization(INVENTORY)) if tokens is not None else None,
        session,
        breaker,
        retry_attempts=settings.inventory_retry_attempts,
        retry_initial_seconds=settings.inventory_retry_initial_seconds,
        retry_max_seconds=settings.inventory_retry_max_seconds,
    )


def payment_provider(settings: BookingCommandSettings) -> HttpPaymentProvider:
    """The provider's HTTP client under a breaker whose state every replica shares.

    One kept-alive connection per payment the worker charges at once."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=settings.payment_concurrency),
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=settings.payment_connect_timeout_seconds,
            sock_read=settings.payment_timeout_seconds,
        ),
    )
    breaker = shared_breaker(
        settings,
        PAYMENT_PROVIDER,
        fail_max=settings.payment_breaker_fail_max,
        reset_timeout_seconds=settings.payment_breaker_reset_seconds,
    )
    return HttpPaymentProvider(
        str(settings.payment_provider_url),
        settings.payment_provider_secret_key.get_secret_value(),
        session,
        breaker,
        retry_attempts=settings.payment_retry_attempts,
        retry_initial_seconds=settings.payment_retry_initial_seconds,
        retry_max_seconds=settings.payment_retry_max_seconds,
    )


def kafka_runtime(settings: BookingCommandSettings) -> KafkaRuntime:
    """The service's broker: what it publishes (through the outbox); it consumes nothing."""
    runtime = KafkaRuntime(settings)
    runtime.publisher(
        settings.topic(topics.CATALOG_EVENTS),
        message_type=EventEnvelope,
        description="Venue and event changes (venue.*, event.*), keyed by venue or event id",
    )
    runtime.publisher(
        settings.topic(topics.BOOKING_EVENTS),
        message_type=EventEnvelope,
        description="Booking lifecycle (booking.*), keyed by the event (show) id",
    )
    return runtime


@asynccontextmanager
async def reconciliation(settings: BookingCommandSettings) -> AsyncIterator[Reconcile]:
    """The reconciliation after a restore, for the operator command: the event store
    (nothing of the service started), inventory and query-projection with the service's own
    token, and the provider under a breaker of its own (its failures are not the service's)."""
    tokens = service_token_issuer(settings)
    if tokens is None:
        raise SystemExit(
            "SERVICE_TOKEN_PRIVATE_KEY is not set: inventory and query-projection refuse "
            "the reconciliation without booking-command's own token"
        )
    executor = EventStoreExecutor(2)
    app = await executor.run(BookingCommandApplication, postgres_environment(settings))
    timed_ids_from = await executor.run(app.booking_recorder.timed_event_ids_from)

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.reconciliation_timeout_seconds)
        )

    provider = HttpPaymentProvider(
        str(settings.payment_provider_url),
        settings.payment_provider_secret_key.get_secret_value(),
        session(),
        create_breaker(
            f"{PAYMENT_PROVIDER}-reconciliation",
            fail_max=settings.payment_breaker_fail_max,
            reset_timeout_seconds=settings.payment_breaker_reset_seconds,
        ),
        retry_attempts=settings.payment_retry_attempts,
        retry_initial_seconds=settings.payment_retry_initial_seconds,
        retry_max_seconds=settings.payment_retry_max_seconds,
    )
    inventory = HttpInventoryReconciliation(
        INVENTORY,
        str(settings.inventory_url),
        lambda: tokens.service_authorization(INVENTORY),
        session(),
    )
    read_models = HttpReadModelReconciliation(
        QUERY_PROJECTION,
        str(settings.query_projection_url),
        lambda: tokens.service_authorization(QUERY_PROJECTION),
        session(),
    )
    try:
        yield Reconcile(
            EventStoreBookings(
                app, executor, OutboxMapper(app.mapper, settings.topic, timed_ids_from)
            ),
            inventory,
            read_models,
            provider,
        )
    finally:
        await inventory.aclose()
        await read_models.aclose()
        await provider.aclose()
        await executor.run(app.close)
        executor.shutdown()


@dataclass
class BookingCommandAdapters:
    """Everything with I/O the service talks to besides its own settings."""

    # eventsourcing's environment: PostgreSQL in production, the in-memory store in tests.
    event_store: Mapping[str, str]
    payment_provider: PaymentProvider
    inventory: Inventory
    # The broker the outbox relay publishes to; None: no relay, nothing is published.
    kafka: KafkaRuntime | None
    # Which replica's relay publishes (a lock in PostgreSQL); None: this one always does.
    relay_leadership: RelayLeadership | None
    # Readiness pings the event store (a database that can go away).
    ping_event_store: bool
    # Readiness checks shown in the report that keep the service in rotation when failing.
    optional_probes: dict[str, Probe] = field(default_factory=dict)

    async def aclose(self) -> None:
        await self.payment_provider.aclose()
        await self.inventory.aclose()


AdaptersFactory = Callable[[BookingCommandSettings], Awaitable[BookingCommandAdapters]]


async def production_adapters(settings: BookingCommandSettings) -> BookingCommandAdapters:
    """PostgreSQL, the payment provider and inventory over HTTP (breakers shared through
    Redis), the broker, and relay leadership among replicas. Built on the running loop
    (the HTTP clients' sessions belong to it)."""
    provider = payment_provider(settings)
    inventory = inventory_client(settings)
    return BookingCommandAdapters(
        event_store=postgres_environment(settings),
        payment_provider=provider,
        inventory=inventory,
        kafka=kafka_runtime(settings),
        relay_leadership=RelayLeadership(settings.database_dsn),
        ping_event_store=True,
        optional_probes={
            # Bookings are still taken while the provider is down (payments stay due).
            PAYMENT_PROVIDER: breaker_probe(provider.breaker),
            # Catalog commands and reads go on; bookings answer 503 meanwhile.
            INVENTORY: breaker_probe(inventory.breaker),
        },
    )


@dataclass
class Runtime:
    settings: BookingCommandSettings
    app: BookingCommandApplication
    executor: EventStoreExecutor
    group_commit: GroupCommitter
    bus: MessageBus
    reads: WriteSideReads
    hold_expiry: HoldExpiryWorker
    payment_worker: PaymentWorker
    event_cancellation_worker: EventCancellationWorker
    adapters: BookingCommandAdapters
    relay: OutboxRelay | None

    @property
    def kafka(self) -> KafkaRuntime | None:
        return self.adapters.kafka

    async def start(self) -> None:
        self.group_commit.start()
        self.hold_expiry.start()
        self.payment_worker.start()
        self.event_cancellation_worker.start()
        if self.kafka is not None:
            if self.settings.create_topics:
                await ensure_topics(
                    self.settings,
                    [self.settings.topic(name) for name in topics.ALL_TOPICS],
                )
            epoch = EventStoreBrokerEpoch(self.app, self.executor)
            await recover_from_broker_change(self.settings, epoch)
            await self.executor.run(self.app.load_tracking_epoch)
            await self.kafka.start()
            self.kafka.watch_broker(epoch, after_recovery=self._after_broker_recovery)
        if self.relay is not None:
            self.relay.start()

    async def _after_broker_recovery(self) -> None:
        # The relay names its tracking stream after the new broker.
        await self.executor.run(self.app.load_tracking_epoch)
        if self.relay is not None:
            self.relay.wake()

    async def stop(self) -> None:
        await self.hold_expiry.stop()
        await self.event_cancellation_worker.stop()
        await self.payment_worker.stop()
        await self.adapters.aclose()
        await self.group_commit.stop()
        if self.relay is not None:
            # One last round so what was just committed goes out before we exit.
            await self.relay.stop(final_round_seconds=FINAL_OUTBOX_ROUND_SECONDS)
        if self.kafka is not None and self.kafka.started:
            await self.kafka.stop()
        await self.executor.run(self.app.close)
        self.executor.shutdown()


async def open_runtime(
    settings: BookingCommandSettings,
    adapters: BookingCommandAdapters,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> Runtime:
    """Builds (but does not start) every part; the event store's tables exist after this."""
    executor = EventStoreExecutor(settings.event_store_threads)
    env = dict(adapters.event_store)

    def construct() -> BookingCommandApplication:
        return BookingCommandApplication(
            env,
            clock=clock,
            hold_for=timedelta(seconds=settings.hold_timeout_seconds),
            idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
            catalog_cache_ttl_seconds=settings.catalog_cache_ttl_seconds,
            event_cancellation_batch_size=settings.event_cancellation_batch_size,
            event_cancellation_grace=timedelta(seconds=settings.event_cancellation_grace_seconds),
            is_published=is_published,
        )

    app = await executor.run(construct)
    group_commit = GroupCommitter(
        app.commit,
        executor,
        max_batch=settings.group_commit_max_batch,
        observe_batch=GROUP_COMMIT_BATCH_SIZE.observe,
    )
    relay: OutboxRelay | None = None
    if adapters.kafka is not None:
        timed_ids_from = await executor.run(app.booking_recorder.timed_event_ids_from)
        relay = OutboxRelay(
            app,
            executor,
            OutboxMapper(app.mapper, settings.topic, timed_ids_from),
            adapters.kafka.publish,
            batch_size=settings.relay_batch_size,
            idle_poll_seconds=settings.relay_idle_poll_seconds,
            retry_max_seconds=settings.relay_retry_max_seconds,
            leadership=adapters.relay_leadership,
        )

    def after_commit() -> None:
        # New bookings are held: their payments are due now.
        payment_worker.wake()
        if relay is not None:
            relay.wake()

    bus = MessageBus(
        command_handlers(app),
        executor,
        middleware=[ConflictRetries(), IdempotentReplays(app.idempotency, executor)],
        store_middleware=[AskInventory(adapters.inventory), HoldTickets(adapters.inventory)],
        store=GroupCommit(group_commit, after_commit=after_commit),
    )

    def on_expired(count: int) -> None:
        HOLDS_EXPIRED.inc(count)
        if relay is not None:
            relay.wake()

    hold_expiry = HoldExpiryWorker(
        app.hold_expiry,
        app.idempotency,
        executor,
        interval_seconds=settings.hold_expiry_interval_seconds,
        on_expired=on_expired,
    )

    def after_payments() -> None:
        if relay is not None:
            relay.wake()

    def observe_payment(outcome: str) -> None:
        if outcome == "postponed":
            DUE_PAYMENTS_POSTPONED.inc()
        else:
            PAYMENTS.labels(outcome=outcome).inc()

    payment_worker = PaymentWorker(
        app.payments,
        adapters.payment_provider,
        executor,
        PaymentWorkerOptions(
            batch_size=settings.payment_batch_size,
            concurrency=settings.payment_concurrency,
            lease_seconds=settings.payment_lease_seconds,
            retry_initial_seconds=settings.payment_retry_initial_seconds,
            retry_max_seconds=settings.payment_due_backoff_max_seconds,
            idle_poll_seconds=settings.payment_idle_poll_seconds,
            # A create whose answer timed out has had time to land or be dropped.
            recheck_after_seconds=3 * settings.payment_timeout_seconds,
        ),
        after_record=after_payments,
        observe=observe_payment,
    )

    def after_cascade_batch(report: CascadeReport) -> None:
        EVENT_CANCELLATION_BOOKINGS.labels(outcome="cancelled").inc(report.cancelled)
        EVENT_CANCELLATION_BOOKINGS.labels(outcome="rejected").inc(report.rejected)
        if report.refunds_due or report.rejected:
            payment_worker.wake()
        if relay is not None:
            relay.wake()

    # Polls (no wake-up from commands: that would add a claim query to every booking commit).
    event_cancellation_worker = EventCancellationWorker(
        app.event_cancellations,
        executor,
        idle_poll_seconds=settings.payment_idle_poll_seconds,
        after_batch=after_cascade_batch,
    )
    return Runtime(
        settings,
        app,
        executor,
        group_commit,
        bus,
        WriteSideReads(app, executor),
        hold_expiry,
        payment_worker,
        event_cancellation_worker,
        adapters,
        relay,
    )


def build_app(
    settings: BookingCommandSettings, adapters: AdaptersFactory = production_adapters
) -> FastAPI:
    """`adapters` builds what the service talks to once its event loop runs."""
    health = health_registry_for(settings)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        runtime = await open_runtime(settings, await adapters(settings))
        api.state.runtime = runtime
        api.state.bus = runtime.bus
        api.state.reads = runtime.reads
        if runtime.adapters.ping_event_store:

            async def postgres() -> None:
                await runtime.executor.run(runtime.app.ping)

            health.add("postgres", postgres)
        if runtime.kafka is not None:
            health.add("kafka", runtime.kafka.broker_probe)
        health.add("group-commit", runtime.group_commit.probe)
        health.add("hold-expiry", runtime.hold_expiry.probe)
        health.add("payment-worker", runtime.payment_worker.probe)
        health.add("event-cancellation-worker", runtime.event_cancellation_worker.probe)
        for name, probe in runtime.adapters.optional_probes.items():
            health.add(name, probe, required=False)
        if runtime.kafka is not None:
            health.add("kafka-runtime", runtime.kafka.probe)
        if runtime.relay is not None:
            health.add("outbox-relay", runtime.relay.probe)
        try:
            await runtime.start()
            yield
        finally:
            await runtime.stop()

    return create_service_app(
        settings,
        title="Booking command service",
        description=(
            "Write side: event-sourced catalog and bookings (internal API, called by the "
            "gateway). Every command answers with the aggregate id, its version and the "
            "notification-log position the read models report reaching."
        ),
        health=health,
        routers=[
            venues.router,
            events.router,
            bookings.router,
        ],
        service_routers=[known_bookings.router],
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
    )
