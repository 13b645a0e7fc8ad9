"""Waiting rooms on a real Redis (issue 22): the Lua scripts keep the order fair, admit no more
than the rate and cap allow with two gateways admitting at once, keep places across a gateway
restart, and a Redis that goes away stops admission without losing a place."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from gateway.adapters.waiting_room_store import RedisWaitingRoomStore
from gateway.adapters.waiting_room_tokens import HmacRoomTokens
from gateway.application.booking_pressure import BookingPressure
from gateway.application.waiting_room import (
    AdmissionRound,
    AttemptOutcome,
    Joined,
    WaitingRooms,
)
from gateway.bootstrap import build_app, production_adapters
from gateway.domain.users import Caller
from gateway.domain.waiting_room import RoomSettings
from gateway.settings import GatewaySettings
from local_infra.redis_server import temporary_redis_server
from service_kit.errors import DependencyUnavailableError
from service_kit.internal_auth import generate_key_pair

pytestmark = pytest.mark.integration

SECRET = "k7Qm2ZpL9vXw4RtB8nYc3HsJ6fGd1AeU5oVi0qNbTzWyMx"
PASSWORD = "Sturdy-Horse-42"
CHI_SQUARE_5_DOF_0_001 = 20.52
ROOMY = RoomSettings(None, 600_000, 100_000, 10, 3)


@dataclass
class Catalog:
    sale_starts: dict[uuid.UUID, datetime | None] = field(default_factory=dict)

    async def sale_starts_at(self, event_id: uuid.UUID) -> datetime | None:
        return self.sale_starts.get(event_id)

    async def stock(self, event_id: uuid.UUID) -> Mapping[str, int] | None:
        return None


def rooms_on(redis: Redis, prefix: str, catalog: Catalog, seed: int | None = None) -> WaitingRooms:
    import random

    source = random.Random(seed)
    return WaitingRooms(
        RedisWaitingRoomStore(redis, f"{prefix}{uuid.uuid4().hex}:"),
        HmacRoomTokens.from_secret(SECRET),
        catalog,
        catalog,
        BookingPressure(p99_limit_seconds=1.0),
        recovery_seconds=60,
        random_bits=source.getrandbits,
    )


@pytest.fixture
async def redis(infrastructure: Any) -> AsyncIterator[Redis]:
    client = Redis.from_url(infrastructure.redis_url)
    yield client
    await client.aclose()


def fan(name: str) -> Caller:
    return Caller(user_id=name, role="user")


async def admission_order(rooms: WaitingRooms, catalog: Catalog, names: list[str]) -> list[str]:
    event_id = uuid.uuid4()
    catalog.sale_starts[event_id] = datetime.fromtimestamp(time.time() + 3600, UTC)
    await rooms.configure(event_id, ROOMY)
    tokens = {name: (await rooms.join(fan(name), event_id)).token for name in names}
    catalog.sale_starts[event_id] = datetime.fromtimestamp(time.time() - 1, UTC)
    await rooms.admission_round()
    passes = {}
    for name in names:
        answer = await rooms.place(tokens[name], name)
        assert answer.view.pass_number is not None, answer
        passes[name] = answer.view.pass_number
    await rooms.close(event_id)
    return sorted(names, key=lambda name: passes[name])


async def test_early_fans_go_in_in_a_uniformly_random_order(redis, redis_key_prefix) -> None:
    catalog = Catalog()
    rooms = rooms_on(redis, redis_key_prefix, catalog, seed=22)
    names = ["ann", "ben", "cat"]
    orders: Counter[tuple[str, ...]] = Counter()
    for _ in range(600):
        orders[tuple(await admission_order(rooms, catalog, names))] += 1

    every_order = list(itertools.permutations(names))
    expected = sum(orders.values()) / len(every_order)
    chi_square = sum((orders[order] - expected) ** 2 / expected for order in every_order)
    assert set(orders) == set(every_order)
    assert chi_square < CHI_SQUARE_5_DOF_0_001


async def test_fans_who_join_after_the_start_go_in_in_arrival_order_behind_the_early_ones(
    redis, redis_key_prefix
) -> None:
    catalog = Catalog()
    rooms = rooms_on(redis, redis_key_prefix, catalog)
    event_id = uuid.uuid4()
    start = time.time() + 0.5
    catalog.sale_starts[event_id] = datetime.fromtimestamp(start, UTC)
    await rooms.configure(event_id, ROOMY)
    early = [f"early-{n}" for n in range(4)]
    late = [f"late-{n}" for n in range(12)]
    tokens = {name: (await rooms.join(fan(name), event_id)).token for name in early}
    await asyncio.sleep(max(0.0, start - time.time()) + 0.01)  # the start itself
    for name in late:
        tokens[name] = (await rooms.join(fan(name), event_id)).token
    await rooms.admission_round()
    passes = {name: (await rooms.place(tokens[name], name)).view.pass_number for name in tokens}

    went_in = sorted(tokens, key=lambda name: passes[name] or 0)
    assert all(passes.values())
    assert sorted(went_in[:4]) == early
    assert went_in[4:] == late


async def test_passes_are_counted_atomically_in_redis(redis, redis_key_prefix) -> None:
    store = RedisWaitingRoomStore(redis, f"{redis_key_prefix}{uuid.uuid4().hex}:")
    event_id = uuid.uuid4()
    figures, created = await store.configure(event_id, RoomSettings(None, 6000, 100, 10, 2), "r1")
    await store.join(event_id, "sam", sale_starts_at=None, place_id="p1", shuffled_score=0.5)
    again = await store.join(
        event_id, "sam", sale_starts_at=None, place_id="p2", shuffled_score=0.1
    )
    round_ = AdmissionRound(None, 10, pressure=False, recovery_seconds=60)
    admission = await eventually(
        lambda: store.admit(event_id, round_), lambda admission: admission.admitted == 1
    )
    _, status = await store.place(event_id, "sam", "p1")
    number = status.pass_number  # type: ignore[union-attr]

    concurrent = await asyncio.gather(
        *(store.use_attempt(event_id, "r1", "sam", number, f"key-{n}") for n in range(20))
    )
    retried = await store.use_attempt(event_id, "r1", "sam", number, "key-0")
    wrong_room = await store.use_attempt(event_id, "r0", "sam", number, None)
    wrong_pass = await store.use_attempt(event_id, "r1", "sam", number + 1, None)
    await store.close(event_id)
    room_off = await store.use_attempt(event_id, "r1", "sam", number, None)

    assert created
    assert figures.settings == RoomSettings(None, 6000, 100, 10, 2)
    assert isinstance(again, Joined)
    assert not again.new
    assert admission.admitted == 1
    assert Counter(concurrent) == {AttemptOutcome.USED: 2, AttemptOutcome.USED_UP: 18}
    used_keys = [f"key-{n}" for n, outcome in enumerate(concurrent) if outcome == "used"]
    assert retried == (AttemptOutcome.USED if "key-0" in used_keys else AttemptOutcome.USED_UP)
    assert (wrong_room, wrong_pass) == (AttemptOutcome.UNKNOWN_PASS, AttemptOutcome.UNKNOWN_PASS)
    assert room_off == AttemptOutcome.NO_ROOM


async def test_admissions_racing_each_other_never_pass_the_cap_nor_admit_twice(
    redis, redis_key_prefix
) -> None:
    store = RedisWaitingRoomStore(redis, f"{redis_key_prefix}{uuid.uuid4().hex}:")
    event_id = uuid.uuid4()
    await store.configure(event_id, RoomSettings(None, 600_000, 25, 10, 1), "r1")
    for n in range(100):
        await store.join(
            event_id, f"fan-{n}", sale_starts_at=None, place_id=f"p{n}", shuffled_score=0
        )
    round_ = AdmissionRound(None, None, pressure=False, recovery_seconds=60)
    results = await asyncio.gather(*(store.admit(event_id, round_) for _ in range(50)))
    figures = await store.figures(event_id)

    assert sum(result.admitted for result in results if result) == 25
    assert figures is not None
    assert (figures.admitted_now, figures.admitted_total, figures.waiting) == (25, 25, 75)


# ------------------------------------------------------------------ whole gateways


class Downstream:
    """query-projection's event and availability reads, for any event."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")
        if request.url.path == "/health/ready":
            return httpx.Response(200, json={"status": "ready"})
        if len(parts) == 5 and parts[3] == "events":
            return httpx.Response(200, json={"id": parts[4], "sale_starts_at": None})
        if len(parts) == 6 and parts[5] == "availability":
            return httpx.Response(
                200, json={"ticket_types": [{"ticket_type_id": "t", "available": 1000}]}
            )
        return httpx.Response(503, json={"detail": "stand-in", "error_type": "unavailable"})


def gateway_settings(database_url: str, redis_url: str, prefix: str) -> GatewaySettings:
    return GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        internal_token_private_key=generate_key_pair()[0],
        jwt_secret=SECRET,
        database_url=database_url,
        redis_url=redis_url,
        redis_key_prefix=prefix,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        booking_command_url="http://booking-command.test",
        query_projection_url="http://query-projection.test",
        inventory_url="http://inventory.test",
        waiting_room_admission_interval_seconds=0.05,
        health_cache_seconds=0,
    )


@asynccontextmanager
async def running(settings: GatewaySettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    adapters = production_adapters(settings)
    adapters.transport = httpx.MockTransport(Downstream().handle)
    app = build_app(settings, adapters)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield app, client


async def signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """A fan's headers (signing up first if needed)."""
    await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Fan"}
    )
    login = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200, me.text
    return str(me.json()["id"])


async def eventually(
    probe: Callable[[], Any], done: Callable[[Any], bool], *, within: float = 10
) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def test_two_gateways_sharing_redis_admit_no_more_than_the_rate_and_the_cap(
    infrastructure, database_factory, redis_key_prefix
) -> None:
    prefix = f"{redis_key_prefix}{uuid.uuid4().hex}:"
    settings = gateway_settings(
        await database_factory("gateway_rooms_pair"), infrastructure.redis_url, prefix
    )
    store = RedisWaitingRoomStore(Redis.from_url(infrastructure.redis_url), prefix)
    by_rate, by_cap = uuid.uuid4(), uuid.uuid4()
    rooms = {
        by_rate: RoomSettings(None, 120, 1000, 10, 3),
        by_cap: RoomSettings(None, 60_000, 7, 10, 3),
    }
    async with running(settings), running(settings):
        for event_id, room in rooms.items():
            await store.configure(event_id, room, "r1")
            await store.set_paused(event_id, True)  # while the queue fills
            for n in range(60):
                account = f"fan-{n}"
                await store.join(
                    event_id, account, sale_starts_at=None, place_id=account, shuffled_score=0
                )
        started = time.monotonic()
        for event_id in rooms:
            await store.set_paused(event_id, False)
        seen: list[tuple[float, int, int]] = []
        while not seen or (seen[-1][1] < 6 or seen[-1][2] < 7):
            assert time.monotonic() - started < 30, seen
            rate, cap = await store.figures(by_rate), await store.figures(by_cap)
            assert rate is not None
            assert cap is not None
            seen.append((time.monotonic() - started, rate.admitted_total, cap.admitted_now))
            await asyncio.sleep(0.1)

    # At most the two seconds' worth saved while paused (4), then 2 a second.
    for elapsed, admitted, _ in seen:
        assert admitted <= 4 + 2 * elapsed, seen
    assert max(admitted_now for *_, admitted_now in seen) == 7


async def test_places_outlive_a_gateway_restart(
    infrastructure, database_factory, redis_key_prefix
) -> None:
    settings = gateway_settings(
        await database_factory("gateway_rooms_restart"),
        infrastructure.redis_url,
        f"{redis_key_prefix}{uuid.uuid4().hex}:",
    )
    event_id = uuid.uuid4()
    async with running(settings) as (app, client):
        rooms: WaitingRooms = app.state.services.waiting_rooms
        await rooms.configure(event_id, RoomSettings(None, 60, 1, 10, 3))
        first = await signed_in(client, "first@example.com")
        second = await signed_in(client, "second@example.com")
        await client.post(f"/api/v1/events/{event_id}/waiting-room/places", headers=first)
        joined = await client.post(f"/api/v1/events/{event_id}/waiting-room/places", headers=second)
        before = (await client.get(joined.headers["Location"], headers=second)).json()

    async with running(settings) as (_, client):
        again = await signed_in(client, "second@example.com")
        after = (await client.get(joined.headers["Location"], headers=again)).json()
        rejoined = await client.post(
            f"/api/v1/events/{event_id}/waiting-room/places", headers=again
        )

    assert joined.status_code == 201
    assert before["state"] == "waiting"
    assert (after["state"], after["position"]) == ("waiting", before["position"])
    assert rejoined.status_code == 200
    assert rejoined.json()["place_token"] == joined.json()["place_token"]


async def test_while_redis_is_away_rooms_answer_503_and_admission_resumes_without_losing_places(
    database_factory, redis_key_prefix, caplog
) -> None:
    event_id = uuid.uuid4()
    async with temporary_redis_server() as server:
        settings = gateway_settings(
            await database_factory("gateway_rooms_blip"), server.url, redis_key_prefix
        )
        async with running(settings) as (app, client):
            rooms: WaitingRooms = app.state.services.waiting_rooms
            await rooms.configure(event_id, RoomSettings(None, 60, 1, 10, 3))
            first = await signed_in(client, "first@example.com")
            first_id = await user_id(client, first)
            second = await signed_in(client, "second@example.com")
            places = f"/api/v1/events/{event_id}/waiting-room/places"
            admitted = await client.post(places, headers=first)
            waiting = await client.post(places, headers=second)
            admission_pass = (
                await eventually(
                    lambda: client.get(admitted.headers["Location"], headers=first),
                    lambda answer: answer.json()["state"] == "admitted",
                )
            ).json()["pass"]

            await server.stop()
            poll = await client.get(waiting.headers["Location"], headers=second)
            join = await client.post(places, headers=second)
            with pytest.raises(DependencyUnavailableError):  # a booking fails closed
                await rooms.check_booking(Caller(first_id, "user"), event_id, admission_pass, None)
            await eventually(
                lambda: _noted(caplog),
                lambda noted: noted >= 3,  # admission rounds against the stopped server
            )
            ready = (await client.get("/health/ready")).json()

            await server.start()
            back = await eventually(
                lambda: client.get(waiting.headers["Location"], headers=second),
                lambda answer: answer.status_code == 200,
            )
            for _ in range(3):  # the pass's attempts used: its place under the cap frees up
                await rooms.check_booking(Caller(first_id, "user"), event_id, admission_pass, None)
            resumed = await eventually(
                lambda: client.get(waiting.headers["Location"], headers=second),
                lambda answer: answer.json()["state"] == "admitted",
            )

    for refused in (poll, join):
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
    assert ready["checks"]["waiting-room admission"]["status"] == "up"
    assert back.json()["state"] == "waiting"
    assert back.json()["position"] == 1
    assert resumed.json()["state"] == "admitted"


async def _noted(caplog: pytest.LogCaptureFixture) -> int:
    return sum("admission waits" in record.getMessage() for record in caplog.records)
