"""Fault tests: a flash sale goes on while services crash, PostgreSQL restarts, the broker
stalls and the broker is lost, the payment provider is down or slow; afterwards every
guarantee of the platform must still hold, also in the provider's ledger (never charged
twice, every CONFIRMED booking captured once for its total, every other capture refunded).

`CHAOS_PROFILE=short` (default, part of `make test`): a small sale, one crash of
booking-command and of one of two inventory replicas, a PostgreSQL restart, the payment
provider down for 10 s and answering in 2 s for a while, a broker pause, the loss of
the broker (killed, and a new cluster formatted in its place: new cluster id, no topics,
records or positions, on the same port), and Redis frozen for 10 s then started empty (some
bookings must be accepted meanwhile).
`CHAOS_PROFILE=full` (`make chaos`): a bigger sale and every fault in turn, every service
killed, PostgreSQL also killed at once (crash recovery on start), the provider slow for
longer.

The test runs its own stack (own broker, PostgreSQL cluster, Redis server, topic prefixes)
because it kills things; nothing it does reaches the shared `running_stack` or the
machine's PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from local_infra.postgres_cluster import PostgresCluster, temporary_postgres_cluster
from local_infra.pytest_plugin import DatabaseFactory, e2e_stack_config
from local_infra.redis_server import RedisServer, temporary_redis_server
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack import Stack
from local_infra.stack_state import StackInfo

from .faults import lose_redis, lose_the_broker, payment_provider_fault, restart_postgres
from .flash_sale_driver import FlashSale
from .invariants import (
    check_no_booking_confirmed_twice,
    check_payments_match_bookings,
    check_stock_matches_bookings,
    read_model_snapshot,
    rebuild_read_models,
    wait_until_every_booking_is_final,
    wait_until_outboxes_published,
)
from .platform_api import create_venue, published_show, register_fan
from .stack_helpers import admin_headers, wait_until_ready

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECOND_INVENTORY = "inventory-2"
SERVICE_FAULTS = ("booking-command", "inventory", SECOND_INVENTORY, "query-projection", "gateway")
POSTGRES_RESTART = "postgres-restart"  # pg_ctl stop -m fast, then start
POSTGRES_CRASH = "postgres-crash"  # pg_ctl stop -m immediate: crash recovery on start
BROKER_PAUSE = "broker-pause"
BROKER_LOSS = "broker-loss"  # SIGKILL, then an empty broker (new cluster id) on its port
POSTGRES_STOP_MODES = {POSTGRES_RESTART: "fast", POSTGRES_CRASH: "immediate"}
PROVIDER_DOWN = "payment-provider-down"  # every /v1 call answered 503
PROVIDER_SLOW = "payment-provider-slow"  # every /v1 answer 2 s late (work done first)
PROVIDER_DOWN_SECONDS = 10
REDIS_LOSS = "redis-loss"  # SIGSTOP for REDIS_DOWN_SECONDS, then killed and started empty
REDIS_DOWN_SECONDS = 10
PROVIDER_LATENCY_MS = 2000


@dataclass(frozen=True)
class Profile:
    name: str
    fans: int
    pause_seconds: float
    tickets_per_type: int
    faults: tuple[str, ...]
    down_seconds: float  # how long a killed service stays down
    outage_seconds: float  # PostgreSQL down, broker paused or gone
    calm_seconds: float  # sale without faults after each recovery
    hold_seconds: int
    provider_slow_seconds: float

    @property
    def settle_within(self) -> float:
        """Bound for every accepted booking to be final: one hold, plus a margin."""
        return self.hold_seconds + 60


PROFILES = {
    "short": Profile(
        "short",
        fans=10,
        pause_seconds=0.25,
        tickets_per_type=15,
        faults=(
            "booking-command",
            "inventory",
            POSTGRES_RESTART,
            PROVIDER_DOWN,
            PROVIDER_SLOW,
            BROKER_LOSS,
            BROKER_PAUSE,
            REDIS_LOSS,
        ),
        down_seconds=1,
        outage_seconds=3,
        calm_seconds=1.5,
        hold_seconds=20,
        provider_slow_seconds=8,
    ),
    "full": Profile(
        "full",
        fans=30,
        pause_seconds=0.15,
        tickets_per_type=60,
        faults=(
            *SERVICE_FAULTS,
            POSTGRES_RESTART,
            POSTGRES_CRASH,
            PROVIDER_DOWN,
            PROVIDER_SLOW,
            BROKER_LOSS,
            BROKER_PAUSE,
            REDIS_LOSS,
        ),
        down_seconds=3,
        outage_seconds=8,
        calm_seconds=4,
        hold_seconds=30,
        provider_slow_seconds=20,
    ),
}
PROFILE = PROFILES[os.environ.get("CHAOS_PROFILE", "short")]


@dataclass
class ChaosStack:
    stack: Stack
    info: StackInfo
    postgres: PostgresCluster
    redis: RedisServer
    profile: Profile
    # When Redis stopped answering and answered again, once REDIS_LOSS has run.
    redis_outage: tuple[float, float] | None = None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def chaos_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    run_id: str,
    topic_prefix: str,
    redis_key_prefix: str,
) -> AsyncIterator[ChaosStack]:
    # A PostgreSQL and a Redis of the test's own, stopped for real; dropped with their
    # directories.
    async with temporary_postgres_cluster() as postgres, temporary_redis_server() as redis:
        async for chaos in _chaos_stack(
            request,
            tmp_path_factory,
            dataclasses.replace(
                infrastructure, postgres_admin_url=postgres.admin_url, redis_url=redis.url
            ),
            postgres,
            redis,
            DatabaseFactory(postgres.admin_url, run_id),
            topic_prefix,
            redis_key_prefix,
        ):
            yield chaos


async def _chaos_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    postgres: PostgresCluster,
    redis: RedisServer,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    redis_key_prefix: str,
) -> AsyncIterator[ChaosStack]:
    profile = PROFILE
    config = await e2e_stack_config(
        tmp_path_factory.mktemp("chaos"),
        infrastructure,
        database_factory,
        f"{topic_prefix}chaos.",
        f"{redis_key_prefix}chaos:",
        database_namespace="chaos_",
        extra_env={
            "RATE_LIMITS_ENABLED": "false",
            "HOLD_TIMEOUT_SECONDS": str(profile.hold_seconds),
            "HOLD_EXPIRY_INTERVAL_SECONDS": "0.5",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_KIB": "8192",
            "BREAKER_RESET_SECONDS": "2",
        },
    )
    # Its own broker (pausing the session's broker would stall every other test).
    config = dataclasses.replace(
        config, kafka_bootstrap_servers=None, broker_port=0, stop_grace_seconds=10
    )
    stack = Stack(config)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    failed_before = request.session.testsfailed
    try:
        info = await stack.start()
        await stack.start_replica("inventory", SECOND_INVENTORY)
        yield ChaosStack(stack, info, postgres, redis, profile)
    except BaseException:
        sys.stderr.write(f"chaos stack logs:\n{stack.log_tails()}\n")
        raise
    finally:
        if request.session.testsfailed > failed_before and reporter is not None:
            reporter.write_line(f"chaos test failed; service logs:\n{stack.log_tails(60)}")
        await stack.stop()


async def _inject(chaos: ChaosStack, fault: str) -> None:
    stack, profile = chaos.stack, chaos.profile
    if fault in SERVICE_FAULTS:
        await stack.kill_service(fault)  # SIGKILL: no graceful shutdown
        await asyncio.sleep(profile.down_seconds)
        await stack.start_service(fault)
    elif fault in POSTGRES_STOP_MODES:
        await restart_postgres(chaos.postgres, POSTGRES_STOP_MODES[fault], profile.outage_seconds)
    elif fault == PROVIDER_DOWN:
        await payment_provider_fault(chaos.info, {"down": True}, PROVIDER_DOWN_SECONDS)
    elif fault == PROVIDER_SLOW:
        await payment_provider_fault(
            chaos.info, {"latency_ms": PROVIDER_LATENCY_MS}, profile.provider_slow_seconds
        )
    elif fault == BROKER_LOSS:
        await lose_the_broker(stack, profile.outage_seconds)
    elif fault == REDIS_LOSS:
        chaos.redis_outage = await lose_redis(chaos.redis, REDIS_DOWN_SECONDS)
    elif fault == BROKER_PAUSE:
        stack.pause_broker()  # SIGSTOP: connections stay open, nothing is answered
        try:
            await asyncio.sleep(profile.outage_seconds)
        finally:
            stack.resume_broker()
    else:
        raise ValueError(fault)
    for name in chaos.info.services:
        ready = await wait_until_ready(chaos.info.url(name), within_seconds=90)
        assert ready.status_code == 200, (fault, name, ready.text)


@pytest.mark.timeout(900 if PROFILE.name == "full" else 300)
async def test_a_flash_sale_keeps_its_guarantees_through_crashes_restarts_and_broker_faults(
    chaos_stack: ChaosStack,
) -> None:
    info, profile = chaos_stack.info, chaos_stack.profile
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=info.gateway_url, timeout=30) as client:
        admin = await admin_headers(client, info)
        venue_id = await create_venue(client, admin)
        shows = [
            await published_show(
                client,
                admin,
                {"Stalls": profile.tickets_per_type, "Circle": profile.tickets_per_type},
                name=f"Flash Sale {fault}",
                venue_id=venue_id,
            )
            for fault in profile.faults
        ]
        fans = list(await asyncio.gather(*(register_fan(client) for _ in range(profile.fans))))

        # Each fault hits while the fans rush a fresh show; some also cancel and rebook
        # on earlier ones.
        sale = FlashSale(info.gateway_url, fans, shows, pause_seconds=profile.pause_seconds)
        timings: dict[str, float] = {}
        await sale.start()
        try:
            for fault, show in zip(profile.faults, shows, strict=True):
                sale.focus_on(show)
                fault_started = time.monotonic()
                await _inject(chaos_stack, fault)
                timings[fault] = round(time.monotonic() - fault_started, 1)
                await asyncio.sleep(profile.calm_seconds)
        except BaseException:
            await sale.cancel()
            raise
        log = await sale.stop()
        sys.stderr.write(f"chaos {profile.name}: faults {timings}; sale {log.summary()}\n")
        assert len(log.accepted) >= len(shows), log.summary()
        if chaos_stack.redis_outage is not None:
            # Bookings keep flowing without Redis (perhaps more slowly).
            frozen_at, back_at = chaos_stack.redis_outage
            during = [b for b in log.accepted.values() if frozen_at <= b.accepted_at <= back_at]
            assert during, ("no booking accepted while Redis was away", log.summary())

        # Every accepted booking reaches a final status, as the client sees it.
        bookings = await wait_until_every_booking_is_final(
            client, admin, shows, log.accepted, within=profile.settle_within
        )
        for booking_id, accepted in log.accepted.items():
            item = bookings[booking_id]
            assert (str(item["ticket_type_id"]), item["quantity"]) == (
                accepted.ticket_type_id,
                accepted.quantity,
            ), item
        for booking_id in log.cancelled:
            assert bookings[booking_id]["status"] == "CANCELLED", bookings[booking_id]

        # After a broker loss the relays republish their whole logs: the checks below read
        # inventory, the topics and a rebuild once everything stored is published again.
        await wait_until_outboxes_published(
            [info.url(name) for name in ("booking-command", "inventory", SECOND_INVENTORY)]
        )
        # No oversell; sold == CONFIRMED tickets; the public availability agrees.
        stocks = await check_stock_matches_bookings(
            client,
            info.url("inventory"),
            shows,
            bookings,
            inventory_headers=info.internal_headers("inventory"),
        )
        for show in shows:
            assert sum(item["sold"] for item in stocks[show.event_id].values()) > 0, show

        # Nobody was confirmed twice on the public topic.
        await check_no_booking_confirmed_twice(
            info.kafka_bootstrap_servers, info.topic_prefix, bookings
        )

        # The provider's ledger: one intent per booking, one capture of the total per
        # CONFIRMED booking, every other capture refunded, no authorisation left open.
        await check_payments_match_bookings(client, admin, info, shows)

        # The incrementally built read models equal a rebuild from the log.
        before = await read_model_snapshot(client, admin, shows)
        report = await rebuild_read_models(chaos_stack.stack.service_env("query-projection"))
        after = await read_model_snapshot(client, admin, shows)
        assert after == before, (
            report,
            {
                key: (before["bookings"].get(key), value)
                for key, value in after["bookings"].items()
                if before["bookings"].get(key) != value
            },
            [key for key in before["bookings"] if key not in after["bookings"]],
            before["availability"] == after["availability"] or (before, after),
        )
    sys.stderr.write(f"chaos {profile.name} took {time.monotonic() - started:.0f}s\n")
