"""A waiting room through the public API (issue 22): organisers turn it on and watch it; fans
join, poll and are admitted with a pass; bookings need that pass while the room is on. The
gateway on stand-ins, its store in memory on a clock the test moves; admission rounds are run
by the test (the app's own loop is stopped)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway.adapters.waiting_room_store import InMemoryWaitingRoomStore
from gateway.application.waiting_room import WaitingRooms
from gateway.bootstrap import GatewayAdapters

from .conftest import Gateway
from .test_booking_request_fast_path import a_booking, by_route
from .waiting_rooms import Clock

GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]
BOOKINGS = "/api/v1/bookings"
PLACES = "/api/v1/waiting-room/places"


@dataclass
class Room:
    gateway: Gateway
    clock: Clock
    store: InMemoryWaitingRoomStore
    event_id: str
    ticket_type_id: str
    manager: dict[str, str]

    @property
    def url(self) -> str:
        return f"/api/v1/events/{self.event_id}/waiting-room"

    @property
    def rooms(self) -> WaitingRooms:
        rooms: WaitingRooms = self.gateway.app.state.services.waiting_rooms
        return rooms

    async def admit(self, seconds: float = 1.0) -> None:
        self.clock.advance(seconds)
        await self.rooms.admission_round()

    async def join(self, headers: dict[str, str]) -> httpx.Response:
        return await self.gateway.client.post(f"{self.url}/places", headers=headers)

    async def place(self, joined: httpx.Response, headers: dict[str, str]) -> dict[str, Any]:
        polled = await self.gateway.client.get(joined.headers["Location"], headers=headers)
        assert polled.status_code == 200, polled.text
        body: dict[str, Any] = polled.json()
        return body

    async def book(
        self, headers: dict[str, str], admission_pass: str | None = None, **extra: str
    ) -> httpx.Response:
        sent = dict(headers, **extra)
        if admission_pass is not None:
            sent["X-Admission-Pass"] = admission_pass
        body = a_booking(self.event_id, self.ticket_type_id, quantity=1)
        return await self.gateway.client.post(BOOKINGS, json=body, headers=sent)

    async def admitted_fan(self) -> tuple[dict[str, str], str]:
        """A fan who joined and was admitted, and their pass."""
        _, fan = await self.gateway.user_with_id()
        joined = await self.join(fan)
        await self.admit()
        place = await self.place(joined, fan)
        assert place["state"] == "admitted", place
        return fan, place["pass"]


@asynccontextmanager
async def room_on(
    factory: GatewayFactory,
    *,
    sale_starts_at: datetime | None = None,
    available: int = 100,
    gateway_settings: dict[str, Any] | None = None,
    **room: Any,
) -> AsyncIterator[Room]:
    clock = Clock(time.time())
    store = InMemoryWaitingRoomStore(clock)

    def customise(adapters: GatewayAdapters) -> None:
        adapters.waiting_rooms = store
        adapters.clock = clock

    async with factory(customise=customise, **(gateway_settings or {})) as gateway:
        # The test runs the admission rounds: the app's own loop would run them at times
        # of its choosing.
        await gateway.app.state.waiting_room_admission.task.stop()
        event_id, ticket_type_id = str(uuid.uuid4()), str(uuid.uuid4())
        gateway.backend.events[event_id] = {
            "id": event_id,
            "status": "published",
            "sale_starts_at": None if sale_starts_at is None else sale_starts_at.isoformat(),
        }
        gateway.backend.availability[event_id] = {ticket_type_id: available}
        manager = await gateway.headers_for("manager")
        settings = {"admission_per_minute": 60, "max_admitted_at_once": 100, **room}
        turned_on = await gateway.client.put(
            f"/api/v1/events/{event_id}/waiting-room", json=settings, headers=manager
        )
        assert turned_on.status_code == 201, turned_on.text
        yield Room(gateway, clock, store, event_id, ticket_type_id, manager)


def not_admitted_count() -> float:
    return REGISTRY.get_sample_value("waiting_room_not_admitted_total") or 0.0


def bookings_sent(gateway: Gateway) -> int:
    return len(gateway.backend.calls_to(gateway.backend.BOOKING_COMMAND, "POST"))


async def test_an_organiser_turns_a_room_on_changes_it_and_watches_it(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory, admission_per_minute=120) as room:
        client = room.gateway.client
        changed = await client.put(
            room.url,
            json={"admission_per_minute": 30, "max_admitted_at_once": 5, "session_minutes": 4},
            headers=room.manager,
        )
        for _ in range(3):
            await room.join((await room.gateway.user_with_id())[1])
        watched = await client.get(room.url, headers=room.manager)

    assert changed.status_code == 200
    assert watched.status_code == 200
    assert watched.json() == {
        "event_id": room.event_id,
        "opens_at": None,
        "admission_per_minute": 30,
        "max_admitted_at_once": 5,
        "session_minutes": 4,
        "booking_attempts_per_pass": 3,
        "sale_starts_at": None,
        "paused": False,
        "sold_out": False,
        "tickets_left": None,
        "waiting": 3,
        "admitted_now": 0,
        "admitted_total": 0,
        "effective_admission_per_minute": 30.0,
        "estimated_seconds_to_clear": 6,
        "waitlist": None,
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"admission_per_minute": 0, "max_admitted_at_once": 5}, "admission_per_minute"),
        ({"admission_per_minute": 10}, "max_admitted_at_once"),
        (
            {"admission_per_minute": 10, "max_admitted_at_once": 5, "opens_at": "2030-01-01T10:00"},
            "opens_at",
        ),
        ({"admission_per_minute": 10, "max_admitted_at_once": 5, "rate": 3}, "rate"),
    ],
)
async def test_room_settings_are_checked(
    gateway: Gateway, manager_headers: dict[str, str], body: dict[str, Any], problem: str
) -> None:
    event_id = str(uuid.uuid4())
    gateway.backend.events[event_id] = {"id": event_id, "status": "published"}
    refused = await gateway.client.put(
        f"/api/v1/events/{event_id}/waiting-room", json=body, headers=manager_headers
    )
    assert refused.status_code == 422
    assert problem in refused.json()["detail"]


async def test_only_organisers_manage_rooms_and_only_of_events_that_exist(
    gateway: Gateway, manager_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    settings = {"admission_per_minute": 10, "max_admitted_at_once": 5}
    unknown = await gateway.client.put(
        f"/api/v1/events/{uuid.uuid4()}/waiting-room", json=settings, headers=manager_headers
    )
    event_id = str(uuid.uuid4())
    gateway.backend.events[event_id] = {"id": event_id, "status": "published"}
    by_fan = await gateway.client.put(
        f"/api/v1/events/{event_id}/waiting-room", json=settings, headers=user_headers
    )
    no_room = await gateway.client.get(
        f"/api/v1/events/{event_id}/waiting-room", headers=manager_headers
    )
    assert unknown.status_code == 404
    assert by_fan.status_code == 403
    assert no_room.status_code == 404
    assert no_room.json()["error_type"] == "no_waiting_room"


async def test_a_fan_joins_waits_is_admitted_and_books_with_the_pass(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory) as room:
        fan_id, fan = await room.gateway.user_with_id()
        joined = await room.join(fan)
        waiting = await room.place(joined, fan)
        polled = await room.gateway.client.get(joined.headers["Location"], headers=fan)
        without_pass = await room.book(fan)
        await room.admit()
        admitted = await room.place(joined, fan)
        booked = await room.book(fan, admitted["pass"])

    assert joined.status_code == 201
    assert (
        joined.headers["Location"] == f"/api/v1/waiting-room/places/{joined.json()['place_token']}"
    )
    assert joined.json()["state"] == "waiting"
    assert {key: waiting[key] for key in ("state", "position", "ahead", "pass")} == {
        "state": "waiting",
        "position": 1,
        "ahead": 0,
        "pass": None,
    }
    assert waiting["estimated_wait_seconds"] == 0
    assert polled.headers["Retry-After"] == str(waiting["poll_after_seconds"])
    assert polled.headers["Cache-Control"] == "no-store"
    assert without_pass.status_code == 403
    assert without_pass.json()["error_type"] == "not_admitted"
    assert "X-Admission-Pass" in without_pass.json()["detail"]
    assert admitted["state"] == "admitted"
    assert admitted["attempts_left"] == 3
    assert datetime.fromisoformat(admitted["pass_expires_at"]) > datetime.now(UTC) + timedelta(
        minutes=9
    )
    assert booked.status_code == 202, booked.text
    assert room.gateway.backend.bookings[booked.json()["id"]]["owner_id"] == fan_id


async def test_nobody_books_without_a_pass_by_either_path(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory) as room:
        _, fan = await room.gateway.user_with_id()
        refusals_before = not_admitted_count()
        fast = await room.book(fan)
        body = a_booking(room.event_id, room.ticket_type_id, quantity=1)
        routed = await by_route(room.gateway, body, fan)
        forged = await room.book(fan, "a1.forged.pass")

    for answer in (fast, routed, forged):
        assert answer.status_code == 403
        assert answer.json()["error_type"] == "not_admitted"
    assert fast.json() == routed.json()
    assert forged.json()["detail"] == "The admission pass is not valid"
    assert bookings_sent(room.gateway) == 0
    assert not_admitted_count() == refusals_before + 3


async def test_a_pass_books_for_its_own_account_and_event_only(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory) as room:
        _, admission_pass = await room.admitted_fan()
        _, someone_else = await room.gateway.user_with_id()
        borrowed = await room.book(someone_else, admission_pass)

        other_event = str(uuid.uuid4())
        room.gateway.backend.events[other_event] = {"id": other_event, "status": "published"}
        await room.gateway.client.put(
            f"/api/v1/events/{other_event}/waiting-room",
            json={"admission_per_minute": 60, "max_admitted_at_once": 10},
            headers=room.manager,
        )
        fan, admission_pass = await room.admitted_fan()
        elsewhere = await room.gateway.client.post(
            BOOKINGS,
            json=a_booking(other_event, str(uuid.uuid4()), quantity=1),
            headers={**fan, "X-Admission-Pass": admission_pass},
        )

    assert borrowed.status_code == 403
    assert borrowed.json()["detail"] == "The admission pass belongs to another account"
    assert elsewhere.status_code == 403
    assert elsewhere.json()["detail"] == "The admission pass is for another event"
    assert bookings_sent(room.gateway) == 0


async def test_a_pass_admits_its_attempts_and_a_retry_is_the_same_attempt(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory, booking_attempts_per_pass=2) as room:
        fan, admission_pass = await room.admitted_fan()
        first = await room.book(fan, admission_pass, **{"Idempotency-Key": "try-1"})
        retried = await room.book(fan, admission_pass, **{"Idempotency-Key": "try-1"})
        second = await room.book(fan, admission_pass, **{"Idempotency-Key": "try-2"})
        third = await room.book(fan, admission_pass, **{"Idempotency-Key": "try-3"})
        watched = await room.gateway.client.get(room.url, headers=room.manager)

    assert [first.status_code, retried.status_code, second.status_code] == [202, 202, 202]
    assert retried.json()["id"] == first.json()["id"]
    assert third.status_code == 403
    assert third.json()["detail"] == "The admission pass has no booking attempts left"
    assert watched.json()["admitted_now"] == 0  # a used pass frees its place under the cap


async def test_a_pass_expires_with_its_session(gateway_factory: GatewayFactory) -> None:
    async with room_on(gateway_factory, session_minutes=2) as room:
        fan, admission_pass = await room.admitted_fan()
        in_time = await room.book(fan, admission_pass)
        room.clock.advance(121)
        too_late = await room.book(fan, admission_pass)

    assert in_time.status_code == 202
    assert too_late.status_code == 403
    assert too_late.json()["detail"].startswith("The admission pass has expired")


async def test_admission_keeps_to_the_rate_and_the_cap(gateway_factory: GatewayFactory) -> None:
    async with room_on(gateway_factory, admission_per_minute=60, max_admitted_at_once=3) as room:
        for _ in range(6):
            await room.join((await room.gateway.user_with_id())[1])
        admitted = []
        for _ in range(5):
            await room.admit(seconds=1)
            watched = (await room.gateway.client.get(room.url, headers=room.manager)).json()
            admitted.append(watched["admitted_now"])

    assert admitted == [1, 2, 3, 3, 3]
    assert watched["waiting"] == 3
    assert watched["estimated_seconds_to_clear"] == 600  # the 3 behind wait for sessions to end


async def test_before_the_start_places_wait_and_are_told_their_order_is_drawn_then(
    gateway_factory: GatewayFactory,
) -> None:
    start = datetime.now(UTC) + timedelta(minutes=10)
    async with room_on(gateway_factory, sale_starts_at=start) as room:
        fans = [(await room.gateway.user_with_id())[1] for _ in range(3)]
        joined = [await room.join(fan) for fan in fans]
        await room.admit(seconds=60)
        before = await room.place(joined[0], fans[0])
        room.clock.now = start.timestamp() + 0.5
        await room.rooms.admission_round()
        after = [await room.place(place, fan) for place, fan in zip(joined, fans, strict=True)]

    assert before["state"] == "waiting"
    assert before["order_decided_at_start"] is True
    assert (before["position"], before["ahead"]) == (None, None)
    assert before["sale_starts_at"] == start.isoformat().replace("+00:00", "Z")
    assert 540 <= before["estimated_wait_seconds"] <= 542  # the start, then one ahead at 1/s
    # The budget saved before the start (two seconds' worth) lets two in at once.
    assert sorted(place["state"] for place in after) == ["admitted", "admitted", "waiting"]
    assert sorted(place["position"] or 0 for place in after) == [0, 0, 1]


async def test_joining_before_the_room_opens_says_when_it_opens(
    gateway_factory: GatewayFactory,
) -> None:
    opens_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    async with room_on(gateway_factory, opens_at=opens_at.isoformat()) as room:
        _, fan = await room.gateway.user_with_id()
        early = await room.join(fan)
        room.clock.now = opens_at.timestamp() + 1
        on_time = await room.join(fan)

    assert early.status_code == 409
    assert early.json()["error_type"] == "waiting_room_not_open"
    assert datetime.fromisoformat(early.json()["opens_at"]) == opens_at
    assert on_time.status_code == 201


async def test_joining_an_event_without_a_room_is_not_found(
    gateway: Gateway, user_headers: dict[str, str]
) -> None:
    event_id = str(uuid.uuid4())
    gateway.backend.events[event_id] = {"id": event_id, "status": "published"}
    answer = await gateway.client.post(
        f"/api/v1/events/{event_id}/waiting-room/places", headers=user_headers
    )
    assert answer.status_code == 404
    assert answer.json()["error_type"] == "no_waiting_room"


async def test_a_place_is_read_only_by_the_account_that_joined(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory) as room:
        _, fan = await room.gateway.user_with_id()
        _, other = await room.gateway.user_with_id()
        joined = await room.join(fan)
        client = room.gateway.client
        by_other = await client.get(joined.headers["Location"], headers=other)
        anonymous = await client.get(joined.headers["Location"])
        made_up = await client.get("/api/v1/waiting-room/places/p1.bWFkZQ.dXA", headers=fan)

    assert by_other.status_code == 404
    assert by_other.json()["error_type"] == "place_not_found"
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert made_up.status_code == 404


async def test_sold_out_tells_everyone_waiting_and_admission_resumes_when_tickets_return(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory, available=0) as room:
        fans = [(await room.gateway.user_with_id())[1] for _ in range(3)]
        joined = [await room.join(fan) for fan in fans]
        await room.admit()
        sold_out = [await room.place(place, fan) for place, fan in zip(joined, fans, strict=True)]
        watched = (await room.gateway.client.get(room.url, headers=room.manager)).json()

        room.gateway.backend.availability[room.event_id] = {room.ticket_type_id: 2}
        room.clock.advance(1)
        await _after_the_stock_cache(room)
        back = [await room.place(place, fan) for place, fan in zip(joined, fans, strict=True)]

    assert [place["state"] for place in sold_out] == ["sold_out"] * 3
    assert all(place["tickets_left"] == 0 for place in sold_out)
    assert all(place["waitlist"] is None for place in sold_out)
    assert all(place["estimated_wait_seconds"] is None for place in sold_out)
    assert (watched["sold_out"], watched["admitted_now"]) == (True, 0)
    # Never more fans in at once than tickets left.
    assert sorted(place["state"] for place in back) == ["admitted", "admitted", "waiting"]
    assert all(place["tickets_left"] == 2 for place in back)


async def _after_the_stock_cache(room: Room) -> None:
    """Admission rounds until one has read the stock again (its cache lasts half a second)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        await room.admit(seconds=1)
        figures = await room.store.figures(uuid.UUID(room.event_id))
        if figures is not None and not figures.sold_out:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the room never saw the tickets come back")


async def test_a_paused_room_admits_nobody_until_resumed(gateway_factory: GatewayFactory) -> None:
    async with room_on(gateway_factory) as room:
        _, fan = await room.gateway.user_with_id()
        joined = await room.join(fan)
        paused = await room.gateway.client.post(f"{room.url}/pause", headers=room.manager)
        await room.admit(seconds=5)
        while_paused = await room.place(joined, fan)
        resumed = await room.gateway.client.post(f"{room.url}/resume", headers=room.manager)
        await room.admit()
        after = await room.place(joined, fan)

    assert paused.json()["paused"] is True
    assert paused.json()["estimated_seconds_to_clear"] is None
    assert (while_paused["state"], while_paused["paused"]) == ("waiting", True)
    assert resumed.json()["paused"] is False
    assert after["state"] == "admitted"


async def test_turning_the_room_off_lets_bookings_through_and_closes_places(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory) as room:
        _, fan = await room.gateway.user_with_id()
        joined = await room.join(fan)
        turned_off = await room.gateway.client.delete(room.url, headers=room.manager)
        closed = await room.place(joined, fan)
        booked = await room.book(fan)
        again = await room.gateway.client.delete(room.url, headers=room.manager)

    assert turned_off.status_code == 204
    assert closed["state"] == "closed"
    assert booked.status_code == 202
    assert again.status_code == 404


async def test_admission_halves_while_booking_command_cannot_answer(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory, admission_per_minute=600) as room:
        fan, admission_pass = await room.admitted_fan()
        room.gateway.backend.failing[room.gateway.backend.BOOKING_COMMAND] = 503
        failed = await room.book(fan, admission_pass)
        await room.admit()
        under_pressure = (await room.gateway.client.get(room.url, headers=room.manager)).json()
        del room.gateway.backend.failing[room.gateway.backend.BOOKING_COMMAND]
        await room.admit(seconds=30)
        recovering = (await room.gateway.client.get(room.url, headers=room.manager)).json()

    assert failed.status_code == 503
    assert under_pressure["effective_admission_per_minute"] == 300.0
    assert recovering["effective_admission_per_minute"] == 600.0 * 1.0


async def test_while_the_store_is_unavailable_rooms_fail_closed_and_keep_their_places(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(gateway_factory) as room:
        admitted_fan, admission_pass = await room.admitted_fan()
        _, fan = await room.gateway.user_with_id()
        joined = await room.join(fan)
        other_event = str(uuid.uuid4())
        room.gateway.backend.events[other_event] = {"id": other_event, "status": "published"}

        room.store.available = False
        _, latecomer = await room.gateway.user_with_id()
        join = await room.join(latecomer)
        poll = await room.gateway.client.get(joined.headers["Location"], headers=fan)
        booking = await room.book(admitted_fan, admission_pass)
        elsewhere = await room.gateway.client.post(
            BOOKINGS, json=a_booking(other_event, str(uuid.uuid4()), quantity=1), headers=fan
        )
        await room.admit()  # admission waits, it does not fail
        room.store.available = True
        await room.admit()
        after = await room.place(joined, fan)
        booked = await room.book(admitted_fan, admission_pass)

    for answer in (join, poll, booking):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "2"
        assert answer.json()["error_type"] == "dependency_unavailable"
    assert elsewhere.status_code == 202  # no room: the store is not asked
    assert after["state"] == "admitted"
    assert booked.status_code == 202


async def test_a_place_can_be_followed_as_server_sent_events(
    gateway_factory: GatewayFactory,
) -> None:
    async with room_on(
        gateway_factory, gateway_settings={"waiting_room_stream_interval_seconds": 0.01}
    ) as room:
        _, fan = await room.gateway.user_with_id()
        joined = await room.join(fan)

        reads = 0
        read_place = room.store.place

        async def counted_read(*args: Any) -> Any:
            nonlocal reads
            reads += 1
            return await read_place(*args)

        room.store.place = counted_read  # type: ignore[method-assign]
        slots = room.gateway.app.state.stream_slots

        async def until(condition: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 5
            while not condition():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)

        async def meanwhile() -> None:
            await until(lambda: slots.open == 1)  # the stream has its first answer
            await room.admit()
            admitted_at = reads
            await until(lambda: reads > admitted_at + 1)  # the stream has read it since
            await room.gateway.client.delete(room.url, headers=room.manager)

        changes = asyncio.create_task(meanwhile())
        states: list[str] = []
        async with room.gateway.client.stream(
            "GET", joined.headers["Location"], headers={**fan, "Accept": "text/event-stream"}
        ) as stream:
            assert stream.status_code == 200
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    state = json.loads(line.removeprefix("data:"))["state"]
                    if not states or states[-1] != state:
                        states.append(state)
        await changes

    assert states == ["waiting", "admitted", "closed"]  # the stream ends with the place


async def test_the_room_routes_are_documented(gateway: Gateway) -> None:
    paths = (await gateway.client.get("/openapi.json")).json()["paths"]
    room = paths["/api/v1/events/{event_id}/waiting-room"]
    assert set(room) == {"put", "get", "delete"}
    assert set(room["put"]["responses"]) >= {"200", "201", "403", "404", "422", "503"}
    join = paths["/api/v1/events/{event_id}/waiting-room/places"]["post"]
    assert set(join["responses"]) >= {"200", "201", "401", "404", "409", "503"}
    assert join["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WaitingRoomNotOpenOut"
    }
    poll = paths["/api/v1/waiting-room/places/{place_token}"]["get"]
    assert poll["security"] == [{"OAuth2PasswordBearer": []}]
    assert set(poll["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    booking = paths["/api/v1/bookings"]["post"]
    assert "not_admitted" in booking["description"]


async def test_polls_are_answered_before_routing_under_the_routes_name(
    gateway_factory: GatewayFactory,
) -> None:
    route = "/api/v1/waiting-room/places/{place_token}"

    def answered(status: str) -> float:
        labels = {"method": "GET", "route": route, "status": status}
        return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0

    async with room_on(gateway_factory) as room:
        _, fan = await room.gateway.user_with_id()
        joined = await room.join(fan)
        before = (answered("200"), answered("404"))
        polled = await room.gateway.client.get(joined.headers["Location"], headers=fan)
        unknown = await room.gateway.client.get(f"{PLACES}/p1.bm8.bm8", headers=fan)
        too_long = await room.gateway.client.get(f"{PLACES}/{'x' * 401}", headers=fan)

    assert polled.status_code == 200
    assert unknown.json() == {
        "detail": "No such place in a waiting room",
        "error_type": "place_not_found",
    }
    assert (answered("200"), answered("404")) == (before[0] + 1, before[1] + 1)
    assert too_long.status_code == 422  # the route's own validation
