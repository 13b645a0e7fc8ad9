"""The platform under test: its own stack (state dir, ports, databases, prefixes), API helpers."""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from local_infra.platform_topics import platform_topics
from local_infra.postgres import drop_database, ensure_postgres, stop_own_postgres
from local_infra.redis_server import delete_keys_with_prefix, ensure_redis, stop_own_redis
from local_infra.secrets_env import DEFAULT_ADMIN_EMAIL, internal_token_keys, random_secret
from local_infra.services import DEFAULT_DATABASES, MAIL_CATCHER, PAYMENT_SIMULATOR, SERVICE_SPECS
from local_infra.stack import DEFAULT_POSTGRES_ADMIN_URL, DEFAULT_REDIS_URL, Stack, StackConfig
from local_infra.stack_state import StackInfo

PASSWORD = "Sturdy-Horse-42"  # noqa: S105  (the benchmark users' password)
FINAL_STATUSES = frozenset({"CONFIRMED", "REJECTED", "CANCELLED", "EXPIRED"})
UNLIMITED = "1000000/minute"

# The gateway's limiter stays on (its Redis round trip is part of every request) but
# its limits are raised far above what the benchmark sends: it measures throughput,
# not the limiter.
RATE_LIMIT_ENV = {
    "RATE_LIMIT_DEFAULT": UNLIMITED,
    "RATE_LIMIT_BOOKING": UNLIMITED,
    "RATE_LIMIT_LOGIN_FAILURES": UNLIMITED,
    "RATE_LIMIT_REGISTER": UNLIMITED,
    "RATE_LIMIT_REGISTER_TAKEN_EMAILS": UNLIMITED,
}
# Only registering and logging in the user pool (before the sale, not measured) hash
# passwords; a cheaper argon2 keeps that set-up short.
SETUP_ENV = {"PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "8192"}
# The gateway's token settings (its defaults, said aloud): the baselines verify the same JWTs
# with them and the platform's JWT_SECRET.
JWT_ENV = {"JWT_ALGORITHM": "HS256", "JWT_ISSUER": "ticketing-gateway", "JWT_LEEWAY_SECONDS": "10"}
# booking-command's event store (eventsourcing names its tables after the application).
BOOKING_EVENTS = "bookingcommand_events"
EVENT_BOOKINGS = "bookingcommand_event_bookings"
BOOKING_TOPIC = "booking_command.domain.booking:Booking."
FINAL_TOPICS = [BOOKING_TOPIC + name for name in ("Confirmed", "Rejected", "Expired")]


@dataclass(frozen=True)
class Servers:
    """The PostgreSQL and Redis every platform and baseline of a run uses."""

    postgres_admin_url: str
    redis_url: str


@asynccontextmanager
async def bench_servers(own_directory: Path) -> AsyncIterator[Servers]:
    """Servers answering at the default addresses, else our own in `own_directory` for the
    whole run (not a platform's: each platform's stack stops what it started itself)."""
    postgres_dir, redis_dir = own_directory / "postgres", own_directory / "redis"
    try:
        yield Servers(
            postgres_admin_url=await ensure_postgres(DEFAULT_POSTGRES_ADMIN_URL, postgres_dir),
            redis_url=await ensure_redis(DEFAULT_REDIS_URL, redis_dir),
        )
    finally:
        await stop_own_postgres(postgres_dir)
        await stop_own_redis(redis_dir)


@dataclass(frozen=True)
class Platform:
    info: StackInfo
    stack: Stack
    run_id: str

    @property
    def gateway_url(self) -> str:
        return self.info.gateway_url

    def baseline_jwt_env(self) -> dict[str, str]:
        """What a baseline needs to verify the gateway's tokens as the gateway does."""
        return {
            "BENCH_JWT_SECRET": self.info.shared_env["JWT_SECRET"],
            "BENCH_JWT_ISSUER": JWT_ENV["JWT_ISSUER"],
            "BENCH_JWT_LEEWAY_SECONDS": JWT_ENV["JWT_LEEWAY_SECONDS"],
        }

    async def stop_all_but_external_parties(self) -> None:
        """Stops the services and the broker (the databases stay until the platform is
        removed) and starts the payment simulator and the mail catcher again alone: the
        external parties the baselines charge and mail through while nothing of the
        platform runs."""
        await self.stack.stop()
        await self.stack.start_service(PAYMENT_SIMULATOR)
        await self.stack.start_service(MAIL_CATCHER)


@asynccontextmanager
async def running_platform(
    state_dir: Path, servers: Servers, *, log_level: str
) -> AsyncIterator[Platform]:
    """All four services and a broker on free ports; stopped and cleaned up even on failure."""
    postgres_admin_url, redis_url = servers.postgres_admin_url, servers.redis_url
    run_id = uuid.uuid4().hex[:8]
    databases = {
        service: f"bench_{run_id}_{database.removeprefix('ticketing_')}"
        for service, database in DEFAULT_DATABASES.items()
    }
    topics, partitions = platform_topics()
    redis_key_prefix = f"bench:{run_id}:"
    config = StackConfig(
        state_dir=state_dir,
        postgres_admin_url=postgres_admin_url,
        redis_url=redis_url,
        broker_port=0,
        service_ports=dict.fromkeys(SERVICE_SPECS, 0),
        mail_catcher_smtp_port=0,
        databases=databases,
        topic_prefix=f"bench-{run_id}.",
        redis_key_prefix=redis_key_prefix,
        topics=topics,
        topic_partitions=partitions,
        environment="development",
        log_level=log_level,
        extra_env={
            "JWT_SECRET": random_secret(48),
            **internal_token_keys(),
            "ADMIN_EMAIL": DEFAULT_ADMIN_EMAIL,
            "ADMIN_PASSWORD": random_secret(24),
            **RATE_LIMIT_ENV,
            **SETUP_ENV,
            **JWT_ENV,
        },
    )
    stack = Stack(config)
    try:
        try:
            info = await stack.start()
        except BaseException:
            print(f"the stack did not start; service logs:\n{stack.log_tails()}")
            raise
        yield Platform(info=info, stack=stack, run_id=run_id)
    finally:
        await stack.stop()
        for database in databases.values():
            await drop_database(postgres_admin_url, database)
        await delete_keys_with_prefix(redis_url, redis_key_prefix)


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def admin_headers(client: httpx.AsyncClient, info: StackInfo) -> dict[str, str]:
    return await login(client, info.shared_env["ADMIN_EMAIL"], info.shared_env["ADMIN_PASSWORD"])


async def register_users(client: httpx.AsyncClient, count: int) -> list[dict[str, str]]:
    """`count` new users, each logged in: their Authorization headers."""
    gate = asyncio.Semaphore(8)

    async def one(number: int) -> dict[str, str]:
        email = f"fan-{number}-{uuid.uuid4().hex[:8]}@example.com"
        async with gate:
            registered = await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": PASSWORD, "name": "Sam Fan"},
            )
            registered.raise_for_status()
            return await login(client, email, PASSWORD)

    return list(await asyncio.gather(*(one(number) for number in range(count))))


@dataclass(frozen=True)
class OnSale:
    event_id: str
    ticket_type_id: str
    capacity: int


async def event_on_sale(
    client: httpx.AsyncClient, info: StackInfo, admin: dict[str, str], capacity: int, name: str
) -> OnSale:
    """A published event with one ticket type of `capacity`, known to inventory and the gateway."""
    venue = await client.post(
        "/api/v1/venues",
        json={"name": f"{name} Arena", "capacity": capacity, "address": "1 Bench Road"},
        headers=admin,
    )
    venue.raise_for_status()
    starts_at = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    event = await client.post(
        "/api/v1/events",
        json={
            "venue_id": venue.json()["id"],
            "name": name,
            "starts_at": starts_at,
            "ticket_types": [{"name": "Standing", "price": "25.00", "quantity": capacity}],
        },
        headers=admin,
    )
    event.raise_for_status()
    event_id = event.json()["id"]
    (await client.post(f"/api/v1/events/{event_id}/publish", headers=admin)).raise_for_status()
    # A busy platform may answer 503 while the projection catches up (after a 256-connection
    # sale it has been over a minute behind): ask again.
    deadline = time.monotonic() + 180
    while True:
        detail = await client.get(f"/api/v1/events/{event_id}", headers=admin)
        if detail.status_code != 503 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    detail.raise_for_status()
    ticket_type_id = detail.json()["ticket_types"][0]["ticket_type_id"]
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(
        base_url=info.url("inventory"), timeout=10, headers=info.internal_headers("inventory")
    ) as inventory:
        while True:
            stock = await inventory.get(f"/internal/v1/stock/{event_id}")
            availability = await client.get(f"/api/v1/events/{event_id}/availability")
            if (
                stock.status_code == 200
                and availability.status_code == 200
                and availability.json()["ticket_types"]
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"event {event_id} did not reach inventory and the read model")
            await asyncio.sleep(0.2)
    return OnSale(event_id=event_id, ticket_type_id=ticket_type_id, capacity=capacity)


async def inventory_stock(info: StackInfo, event_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=info.url("inventory"), timeout=10, headers=info.internal_headers("inventory")
    ) as inventory:
        response = await inventory.get(f"/internal/v1/stock/{event_id}")
        response.raise_for_status()
        stock: dict[str, Any] = response.json()
        return stock


async def confirmed_through_api(
    client: httpx.AsyncClient, admin: dict[str, str], event_id: str
) -> tuple[int, int]:
    """(CONFIRMED bookings, their tickets) of one event, as an admin pages through the API."""
    bookings = tickets = 0
    page = 1
    while True:
        response = await client.get(
            "/api/v1/bookings",
            params={"event_id": event_id, "status": "CONFIRMED", "page": page, "size": 100},
            headers=admin,
        )
        response.raise_for_status()
        body = response.json()
        for item in body["items"]:
            bookings += 1
            tickets += int(item["quantity"])
        if not body["items"] or page * body["size"] >= body["total"]:
            return bookings, tickets
        page += 1


@dataclass
class Settled:
    status: str
    quantity: int
    # The read model's `updated_at`: when the final event occurred on the write side.
    final_at: float | None


async def poll_until_settled(
    base_url: str,
    accepted: dict[str, dict[str, str]],
    *,
    concurrency: int = 16,
    within_seconds: float = 180.0,
) -> dict[str, Settled]:
    """GET each accepted booking (as its owner) until it is final or time runs out."""
    settled: dict[str, Settled] = {}
    pending = dict(accepted)
    deadline = time.monotonic() + within_seconds
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def check(booking_id: str, headers: dict[str, str]) -> None:
            async with gate:
                response = await client.get(f"/api/v1/bookings/{booking_id}", headers=headers)
            if response.status_code != 200:
                return
            body = response.json()
            if body["status"] in FINAL_STATUSES:
                settled[booking_id] = Settled(
                    status=body["status"],
                    quantity=int(body.get("quantity") or 0),
                    final_at=_timestamp(body.get("updated_at")),
                )
                pending.pop(booking_id, None)

        while pending and time.monotonic() < deadline:
            await asyncio.gather(*(check(key, value) for key, value in list(pending.items())))
            if pending:
                await asyncio.sleep(0.5)
    return settled


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).timestamp()


_BUCKET = re.compile(r"^(?P<name>\w+)_bucket\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$")
_LE = re.compile(r'le="(?P<le>[^"]+)"')


async def histogram(base_url: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of one Prometheus histogram (summed over its label sets)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        match = _BUCKET.match(line)
        if not match or match["name"] != name:
            continue
        le = _LE.search(match["labels"])
        if le is None:
            continue
        bound = math.inf if le["le"] == "+Inf" else float(le["le"])
        buckets[bound] = buckets.get(bound, 0.0) + float(match["value"])
    return buckets


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Prometheus-style quantile of the observations between two scrapes (linear in a bucket)."""
    bounds = sorted(after)
    counts = [after[bound] - before.get(bound, 0.0) for bound in bounds]
    if not counts or counts[-1] <= 0:
        return math.nan
    rank = q * counts[-1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            span = count - lower_count
            inside = (rank - lower_count) / span if span else 1.0
            return lower_bound + (bound - lower_bound) * inside
        lower_bound, lower_count = bound, count
    return math.nan


def histogram_count(before: dict[float, float], after: dict[float, float]) -> float:
    return after.get(math.inf, 0.0) - before.get(math.inf, 0.0)


_SAMPLE = re.compile(r"^(?P<name>\w+)(?:\{[^}]*\})?\s+(?P<value>\S+)$")


async def gauge_sum(base_url: str, name: str) -> float:
    """One Prometheus gauge summed over its label sets (e.g. messages behind per partition)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return sum(
        float(match["value"])
        for line in text.splitlines()
        if (match := _SAMPLE.match(line)) and match["name"] == name
    )


@dataclass(frozen=True)
class WriteSide:
    """One event's bookings in booking-command's event store."""

    requested: int
    final: int
    confirmed: int
    last_confirmed_at: float | None


async def write_side(info: StackInfo, event_id: str) -> WriteSide:
    connection = await asyncpg.connect(info.database_urls["booking-command"])
    try:
        row = await connection.fetchrow(
            f"SELECT count(DISTINCT b.booking_id) AS requested,"  # noqa: S608  (our constants)
            f" count(*) FILTER (WHERE e.topic = ANY($2::text[])) AS final,"
            f" count(*) FILTER (WHERE e.topic = $3) AS confirmed,"
            f" extract(epoch FROM max((convert_from(e.state, 'UTF8')::jsonb"
            f" #>> '{{timestamp,_data_}}')::timestamptz) FILTER (WHERE e.topic = $3)) AS last_at"
            f" FROM {EVENT_BOOKINGS} b JOIN {BOOKING_EVENTS} e ON e.originator_id = b.booking_id"
            f" WHERE b.event_id = $1",
            uuid.UUID(event_id),
            FINAL_TOPICS,
            BOOKING_TOPIC + "Confirmed",
        )
    finally:
        await connection.close()
    return WriteSide(
        requested=int(row["requested"]),
        final=int(row["final"]),
        confirmed=int(row["confirmed"]),
        last_confirmed_at=float(row["last_at"]) if row["last_at"] is not None else None,
    )
