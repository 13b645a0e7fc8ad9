from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest_asyncio
import uvicorn
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from booking_command.adapters.event_store import postgres_environment
from booking_command.adapters.relay_leadership import RelayLeadership
from booking_command.application import commands
from booking_command.application.app import BookingCommandApplication
from booking_command.bootstrap import (
    BookingCommandAdapters,
    Runtime,
    kafka_runtime,
    open_runtime,
    payment_provider,
)
from booking_command.domain.catalog_event import TicketTypeSpec
from booking_command.settings import BookingCommandSettings
from local_infra.ports import free_port
from local_infra.pytest_plugin import DatabaseFactory
from local_infra.secrets_env import random_secret
from local_infra.session_infrastructure import Infrastructure
from payment_simulator.bootstrap import build_app as build_payment_simulator
from payment_simulator.settings import PaymentSimulatorSettings
from service_kit.internal_auth import generate_key_pair
from service_kit.kafka.runtime import KafkaRuntime
from service_kit.kafka_topics import ensure_topics
from service_kit.topic_replay import partitions_of
from ticketing_contracts import topics

from ..unit.fake_inventory import FakeInventory
from ..unit.handling import store

WAIT_SECONDS = 45.0


async def eventually(check: Callable[[], Awaitable[bool]], within: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within:.0f}s")
        await asyncio.sleep(0.1)


PAYMENT_KEY = random_secret(32)


@pytest_asyncio.fixture(loop_scope="session")
async def payment_simulator(database_factory: DatabaseFactory) -> AsyncIterator[str]:
    """The payment provider simulator (its real app and PostgreSQL ledger) served on
    loopback: its base URL."""
    settings = PaymentSimulatorSettings(
        environment="test",
        database_url=await database_factory(f"payments_{secrets.token_hex(3)}"),
        secret_key=PAYMENT_KEY,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_payment_simulator(settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            raise AssertionError("the payment simulator did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving


@pytest_asyncio.fixture(loop_scope="session")
async def settings(
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    payment_simulator: str,
) -> BookingCommandSettings:
    suffix = secrets.token_hex(3)
    database_url = await database_factory(f"booking_{suffix}")
    return BookingCommandSettings(
        environment="test",
        internal_token_public_key=generate_key_pair()[1],
        payment_provider_url=payment_simulator,
        payment_provider_secret_key=PAYMENT_KEY,
        database_url=database_url,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        kafka_topic_prefix=f"{topic_prefix}{suffix}.",
        consumer_group=f"booking-command-{suffix}",
        hold_timeout_seconds=120,
        hold_expiry_interval_seconds=0.2,
        relay_idle_poll_seconds=0.05,
        relay_retry_max_seconds=0.5,
        consumer_retry_max_seconds=0.5,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def runtime(settings: BookingCommandSettings) -> AsyncIterator[Runtime]:
    """Everything built on real PostgreSQL, the broker and the payment simulator, nothing
    started yet; inventory's hold call is a stand-in (the e2e tests run the real one)."""
    adapters = BookingCommandAdapters(
        event_store=postgres_environment(settings),
        payment_provider=payment_provider(settings),
        inventory=FakeInventory(),
        kafka=kafka_runtime(settings),
        relay_leadership=RelayLeadership(settings.database_dsn),
        ping_event_store=True,
    )
    built = await open_runtime(settings, adapters)
    try:
        yield built
    finally:
        await built.stop()


async def start_kafka(runtime: Runtime) -> KafkaRuntime:
    """The topics and the service's broker (with its subscriber), without the relay."""
    kafka = runtime.kafka
    assert kafka is not None
    settings = runtime.settings
    await ensure_topics(
        settings.kafka_bootstrap_servers, [settings.topic(name) for name in topics.ALL_TOPICS]
    )
    await kafka.start()
    return kafka


def booking_request(
    event_id: UUID,
    ticket_type_id: UUID,
    *,
    quantity: int = 1,
    owner_id: str = "user-1",
    card: str = "tok_visa",
    booking_id: UUID | None = None,
) -> commands.RequestBooking:
    """A fan's request for tickets of that type, paid with `card`."""
    return commands.RequestBooking(
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        quantity=quantity,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        owner_id=owner_id,
        payment_token=card,
        booking_id=booking_id,
    )


def put_event_on_sale(app: BookingCommandApplication) -> tuple[UUID, UUID, UUID]:
    [venue] = store(app, [commands.RegisterVenue(name="Arena", capacity=1000, address="1 Road")])
    [show] = store(
        app,
        [
            commands.ScheduleEvent(
                venue_id=venue.id,
                name="Flash Sale Live",
                description="",
                starts_at=datetime.now(UTC) + timedelta(days=30),
                ticket_types=[TicketTypeSpec("Stalls", Decimal("49.50"), "EUR", 900)],
            )
        ],
    )
    store(app, [commands.PublishEvent(show.id)])
    return venue.id, show.id, UUID(show.body["ticket_types"][0]["ticket_type_id"])


async def read_topic(bootstrap_servers: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message on the topic right now, partition by partition, without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap_servers, [topic])
        assert partitions, f"topic {topic} has no partitions"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end_offsets: dict[Any, int] = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        remaining = {tp for tp, end in end_offsets.items() if end > 0}
        deadline = time.monotonic() + WAIT_SECONDS
        while remaining and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for tp, batch in batches.items():
                records.extend(batch)
                if batch and batch[-1].offset + 1 >= end_offsets[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()
