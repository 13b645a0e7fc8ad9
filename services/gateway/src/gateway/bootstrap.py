"""Wires the gateway: settings (and, in tests, stand-in adapters) in, FastAPI app out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware

from gateway.adapters.downstream import HttpDownstream
from gateway.adapters.login_throttle import (
    Backoff,
    InMemoryLoginThrottle,
    LoginThrottleWithFallback,
    RedisLoginThrottle,
)
from gateway.adapters.metrics import AdmissionMetrics
from gateway.adapters.passwords import (
    Argon2PasswordHasher,
    BlockingPasswordHasher,
    BoundedPasswordHashing,
)
from gateway.adapters.platform_status import ServiceStatusReader
from gateway.adapters.rate_limits import (
    LOGIN_FAILURES,
    REGISTER_TAKEN_EMAILS,
    InMemoryWindowCounters,
    RateLimitedFailures,
    RateLimiter,
    RedisWindowCounters,
    WindowCounters,
    WindowCountersWithFallback,
    rules_from_settings,
)
from gateway.adapters.read_positions import InMemoryReadPositions, RedisReadPositions
from gateway.adapters.revoked_tokens import InMemoryRevokedTokens, PostgresRevokedTokens
from gateway.adapters.tokens import JwtTokens
from gateway.adapters.user_store import InMemoryUserRepository, PostgresUserRepository
from gateway.adapters.waiting_room_store import InMemoryWaitingRoomStore, RedisWaitingRoomStore
from gateway.adapters.waiting_room_tokens import HmacRoomTokens
from gateway.application.auth import AuthService
from gateway.application.availability import AvailabilityCache
from gateway.application.booking_batches import BookingBatcher
from gateway.application.booking_pressure import BookingPressure
from gateway.application.bookings import BookingService
from gateway.application.catalog import CatalogService
from gateway.application.operations import OperationsService
from gateway.application.ports import LoginThrottle, ReadPositions, RevokedTokens, UserRepository
from gateway.application.public_reads import CoalescedReads
from gateway.application.read_your_writes import ReadYourWrites
from gateway.application.revocations import RevocationList
from gateway.application.sale_starts import CatalogSaleStarts
from gateway.application.stream_slots import StreamSlots
from gateway.application.tickets import TicketService
from gateway.application.waiting_room import WaitingRooms, WaitingRoomStore
from gateway.application.waitlist import WaitlistService
from gateway.entrypoints.http.booking_requests import BookingRequestFastPath
from gateway.entrypoints.http.deps import GatewayServices
from gateway.entrypoints.http.middleware import PublicEdgeMiddleware, security_headers
from gateway.entrypoints.http.operations import InternalOperationsOnly
from gateway.entrypoints.http.place_polls import PlacePolls
from gateway.entrypoints.http.router import OPENAPI_TAGS, api_routers
from gateway.settings import GatewaySettings
from service_kit.app_factory import create_service_app, health_registry_for
from service_kit.background import WokenRounds
from service_kit.circuit_breakers import (
    CircuitBreaker,
    create_breaker,
    is_open,
    seconds_until_trial,
)
from service_kit.dependency_probes import Probe, http_ready_probe, redis_probe
from service_kit.errors import DomainError, UnauthorizedError
from service_kit.http_errors import error_body
from service_kit.internal_auth import InternalTokenIssuer
from service_kit.redis_pool import redis_client

BOOKING_COMMAND = "booking-command"
INVENTORY = "inventory"
QUERY_PROJECTION = "query-projection"
ENTRY = "entry"
DOWNSTREAM_SERVICES = (BOOKING_COMMAND, INVENTORY, QUERY_PROJECTION, ENTRY)
Hook = Callable[[], Awaitable[None]]

DESCRIPTION = """
Public REST API of the ticket booking platform.

**Log in**: `POST /api/v1/auth/register`, then *Authorize* above with your email as the
username (or `POST /api/v1/auth/token`). Roles: `user` books; `manager` also creates and
updates venues and events; `admin` can do everything, including deleting venues,
cancelling events and granting roles.

**Read your writes**: every write answers with `X-Read-Position`. Your following reads wait
(bounded) until the read models include your writes; other clients can send the value
back in an `X-Read-Position` header to get the same guarantee.

**Retries**: send an `Idempotency-Key` on POSTs; a replay answers like the first request.
**Caching**: reads carry an `ETag`; send it in `If-None-Match` to get `304 Not Modified`.
**Limits**: `429` with `Retry-After` and `X-RateLimit-*` headers when you exceed them.
"""


@dataclass
class GatewayAdapters:
    """Everything with I/O the gateway needs besides the downstream services' URLs."""

    users: UserRepository
    rate_limits: WindowCounters
    read_positions: ReadPositions
    login_throttle: LoginThrottle
    revoked_tokens: RevokedTokens
    waiting_rooms: WaitingRoomStore
    # Where breakers keep their state so replicas share it; None keeps it in memory.
    breaker_redis_url: str | None
    transport: httpx.AsyncBaseTransport | None = None
    # None: argon2id with the settings' parameters.
    password_hasher: BlockingPasswordHasher | None = None
    probes: dict[str, Probe] = field(default_factory=dict)
    # Shown on readiness but not required: the gateway keeps serving without them.
    optional_probes: dict[str, Probe] = field(default_factory=dict)
    # The waiting rooms' wall clock (passes' expiry, estimated waits); tests move it.
    clock: Callable[[], float] = time.time
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)


def production_adapters(settings: GatewaySettings) -> GatewayAdapters:
    """What each Redis use does while Redis is away: docs/architecture.md, "Redis away"."""
    redis = redis_client(str(settings.redis_url))
    users = PostgresUserRepository(settings.database_dsn, settings.database_pool_size)
    revocations = RevocationList(
        PostgresRevokedTokens(users),
        leeway_seconds=settings.jwt_leeway_seconds,
        refresh_seconds=settings.revoked_tokens_refresh_seconds,
        max_stale_seconds=settings.revoked_tokens_max_stale_seconds,
    )
    return GatewayAdapters(
        users=users,
        rate_limits=WindowCountersWithFallback(
            RedisWindowCounters(redis, settings.redis_key_prefix),
            settings.rate_limit_share_without_redis,
        ),
        read_positions=RedisReadPositions(
            redis, settings.redis_key_prefix, settings.read_position_ttl_seconds
        ),
        login_throttle=LoginThrottleWithFallback(
            RedisLoginThrottle(redis, settings.redis_key_prefix, login_backoff(settings)),
            InMemoryLoginThrottle(login_backoff(settings)),
        ),
        revoked_tokens=revocations,
        waiting_rooms=RedisWaitingRoomStore(redis, settings.redis_key_prefix),
        breaker_redis_url=str(settings.redis_url),
        probes={"postgres": users.ping},
        optional_probes={"redis": redis_probe(redis)},
        on_startup=[users.open, revocations.start],
        on_shutdown=[revocations.stop, users.close, redis.aclose],
    )


def login_backoff(settings: GatewaySettings) -> Backoff:
    return Backoff(
        free_failures=settings.login_failures_before_backoff,
        initial_seconds=settings.login_backoff_initial_seconds,
        max_seconds=settings.login_backoff_max_seconds,
    )


def in_memory_adapters(
    transport: httpx.AsyncBaseTransport | None = None, *, backoff: Backoff | None = None
) -> GatewayAdapters:
    """No PostgreSQL or Redis: for unit tests (state per process only)."""
    return GatewayAdapters(
        users=InMemoryUserRepository(),
        rate_limits=InMemoryWindowCounters(),
        read_positions=InMemoryReadPositions(),
        login_throttle=InMemoryLoginThrottle(backoff or Backoff(5, 2, 300)),
        revoked_tokens=InMemoryRevokedTokens(),
        waiting_rooms=InMemoryWaitingRoomStore(),
        breaker_redis_url=None,
        transport=transport,
    )


def _downstream_probe(
    client: httpx.AsyncClient, base_url: str, breaker: CircuitBreaker | None
) -> Probe:
    ready = http_ready_probe(client, base_url)

    async def probe() -> None:
        if breaker is not None and is_open(breaker):
            raise RuntimeError(
                "circuit breaker open: calls fail fast for another "
                f"{seconds_until_trial(breaker):.0f}s, then a trial call goes through"
            )
        await ready()

    return probe


async def _unauthorized(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnauthorizedError)
    return JSONResponse(
        error_body(error.detail, error.error_type),
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def build_app(settings: GatewaySettings, adapters: GatewayAdapters | None = None) -> FastAPI:
    adapters = adapters or production_adapters(settings)
    # The access log already has one line per request; httpx would add one per downstream call.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.downstream_timeout_seconds, connect=settings.downstream_connect_timeout_seconds
        ),
        limits=httpx.Limits(
            max_connections=settings.downstream_max_connections,
            max_keepalive_connections=settings.downstream_max_connections,
        ),
        transport=adapters.transport,
    )
    urls = settings.downstream_services()
    breakers = {
        name: create_breaker(
            name,
            fail_max=settings.breaker_fail_max,
            reset_timeout_seconds=settings.breaker_reset_seconds,
            redis_url=adapters.breaker_redis_url,
            redis_namespace=f"{settings.redis_key_prefix}gateway:breaker:",
        )
        for name in DOWNSTREAM_SERVICES
    }
    internal_tokens = InternalTokenIssuer.from_text(
        settings.internal_token_private_key.get_secret_value(),
        ttl_seconds=settings.internal_token_ttl_seconds,
    )
    commands, stock, queries, entry = (
        HttpDownstream(
            name,
            urls[name],
            client,
            breakers[name],
            tokens=internal_tokens,
            retry_attempts=settings.retry_attempts,
            retry_initial_seconds=settings.retry_initial_seconds,
            retry_max_seconds=settings.retry_max_seconds,
        )
        for name in DOWNSTREAM_SERVICES
    )
    read_your_writes = ReadYourWrites(adapters.read_positions, settings.read_wait_ms)
    tokens = JwtTokens.from_settings(settings)
    password_hashing = BoundedPasswordHashing(
        adapters.password_hasher
        or Argon2PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
        ),
        workers=settings.password_hash_workers,
        queue_size=settings.password_hash_queue_size,
    )
    rate_limiter = RateLimiter(
        adapters.rate_limits, rules_from_settings(settings), enabled=settings.rate_limits_enabled
    )
    auth = AuthService(
        adapters.users,
        password_hashing,
        tokens,
        adapters.login_throttle,
        adapters.revoked_tokens,
        failed_logins_per_address=RateLimitedFailures(rate_limiter, LOGIN_FAILURES),
        taken_emails_per_address=RateLimitedFailures(rate_limiter, REGISTER_TAKEN_EMAILS),
        user_cache_seconds=settings.user_cache_seconds,
    )
    catalog = CatalogService(
        commands,
        queries,
        read_your_writes,
        CoalescedReads(settings.public_read_fresh_seconds),
    )
    availability = AvailabilityCache(queries, settings.availability_cache_ttl_seconds)
    waiting_rooms = WaitingRooms(
        adapters.waiting_rooms,
        HmacRoomTokens.from_secret(settings.jwt_secret.get_secret_value()),
        CatalogSaleStarts(queries, settings.waiting_room_catalog_cache_seconds),
        availability,
        BookingPressure(settings.waiting_room_booking_p99_seconds),
        recovery_seconds=settings.waiting_room_recovery_seconds,
        clock=adapters.clock,
    )
    bookings = BookingService(
        commands,
        queries,
        read_your_writes,
        availability,
        BookingBatcher(commands, read_your_writes, settings.booking_batch_max_size),
        waiting_rooms,
    )
    admission_metrics = AdmissionMetrics()

    async def admission_round() -> bool:
        admitted = await waiting_rooms.admission_round()
        admission_metrics.record(admitted, waiting_rooms.directory.events)
        return False

    admission = WokenRounds(
        "waiting-room admission",
        admission_round,
        idle_seconds=settings.waiting_room_admission_interval_seconds,
    )
    health = health_registry_for(settings)

    async def own_status() -> list[dict[str, Any]]:
        report = await health.readiness()
        return [
            {
                "name": settings.service_name,
                "ready": report.status == "ready",
                "checks": {
                    name: {"status": result.status, "error": result.error}
                    for name, result in report.checks.items()
                },
                "breakers": {name: breaker.current_state for name, breaker in breakers.items()},
            }
        ]

    services = GatewayServices(
        settings=settings,
        auth=auth,
        tokens=tokens,
        catalog=catalog,
        bookings=bookings,
        operations=OperationsService(
            catalog,
            queries,
            # The services with dead letters: those that consume (booking-command does not).
            {INVENTORY: stock, QUERY_PROJECTION: queries, ENTRY: entry},
            ServiceStatusReader(client, urls).statuses,
            own_status,
        ),
        rate_limiter=rate_limiter,
        waiting_rooms=waiting_rooms,
        tickets=TicketService(entry),
        waitlist=WaitlistService(stock),
    )

    for name, probe in adapters.probes.items():
        health.add(name, probe)
    for name, probe in adapters.optional_probes.items():
        health.add(name, probe, required=False)
    health.add("waiting-room admission", admission.task.probe, required=False)
    # A downstream outage is reported but does not pull every gateway pod out of
    # rotation: the gateway still answers other routes and fails fast on the broken one.
    for name, base_url in urls.items():
        health.add(name, _downstream_probe(client, base_url, breakers.get(name)), required=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for start in adapters.on_startup:
            await start()
        if settings.admin_email and settings.admin_password:
            await auth.ensure_admin(
                email=settings.admin_email, password=settings.admin_password.get_secret_value()
            )
        try:
            await waiting_rooms.refresh_directory()
        except DomainError:  # bookings answer 503 until an admission round reads the rooms
            logging.getLogger(__name__).warning("waiting rooms unknown at start-up")
        admission.task.start()
        try:
            yield
        finally:
            await admission.task.stop()
            password_hashing.close()
            await client.aclose()
            for breaker in breakers.values():
                await breaker.aclose()
            for stop in adapters.on_shutdown:
                await stop()

    app = create_service_app(
        settings,
        title="Ticketing API",
        description=DESCRIPTION,
        health=health,
        routers=api_routers(),
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
    )
    # Innermost, inside the kit's request context and the public edge (add_middleware
    # would put them outside both).
    app.user_middleware.append(
        Middleware(
            BookingRequestFastPath,
            services=services,
            error_handlers=app.exception_handlers,
            max_body_bytes=settings.max_request_body_bytes,
        )
    )
    app.user_middleware.append(
        Middleware(PlacePolls, services=services, error_handlers=app.exception_handlers)
    )
    app.state.services = services
    app.state.breakers = breakers
    app.state.waiting_room_admission = admission
    app.state.stream_slots = StreamSlots(
        settings.sse_max_streams_per_user, settings.sse_max_streams_per_pod
    )
    app.add_middleware(InternalOperationsOnly)
    app.add_exception_handler(UnauthorizedError, _unauthorized)
    app.add_middleware(
        PublicEdgeMiddleware,
        static_headers=security_headers(production=settings.is_production),
        max_body_bytes=settings.max_request_body_bytes,
        gzip_minimum_bytes=settings.gzip_minimum_bytes,
        cors={
            "allow_origins": settings.cors_allowed_origins,
            "allow_methods": ["GET", "POST", "PUT", "DELETE"],
            "allow_headers": [
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-None-Match",
                "X-Admission-Pass",
                "X-Read-Position",
                "X-Request-ID",
                "X-Correlation-ID",
            ],
            "expose_headers": [
                "ETag",
                "Location",
                "Retry-After",
                "X-Read-Position",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "X-Request-ID",
                "X-Correlation-ID",
            ],
        },
    )
    return app
