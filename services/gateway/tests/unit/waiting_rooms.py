"""The waiting rooms' use cases on fakes: an in-memory store on a clock the test moves, a sale
start and a stock the test sets, a seeded random source."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.adapters.waiting_room_store import InMemoryWaitingRoomStore
from gateway.adapters.waiting_room_tokens import HmacRoomTokens
from gateway.application.booking_pressure import BookingPressure
from gateway.application.waiting_room import WaitingRooms
from gateway.domain.users import Caller
from gateway.domain.waiting_room import RoomSettings

START = 1_900_000_000.0  # the sale's start, on the test's clock


class Clock:
    def __init__(self, now: float = START - 600) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Catalog:
    """Sale starts and stock per event, as the test sets them."""

    sale_starts: dict[uuid.UUID, datetime | None] = field(default_factory=dict)
    tickets: dict[uuid.UUID, dict[str, int]] = field(default_factory=dict)

    async def sale_starts_at(self, event_id: uuid.UUID) -> datetime | None:
        return self.sale_starts.get(event_id)

    async def stock(self, event_id: uuid.UUID) -> Mapping[str, int] | None:
        return self.tickets.get(event_id)


def settings(**changes: object) -> RoomSettings:
    values: dict[str, object] = {
        "opens_at": None,
        "admission_per_minute": 60_000,
        "max_admitted_at_once": 1000,
        "session_minutes": 10,
        "booking_attempts_per_pass": 3,
    }
    values.update(changes)
    return RoomSettings(**values)  # type: ignore[arg-type]


@dataclass
class Rooms:
    rooms: WaitingRooms
    store: InMemoryWaitingRoomStore
    catalog: Catalog
    clock: Clock

    async def open_room(
        self, *, sale_starts_at: float | None = START, **changes: object
    ) -> uuid.UUID:
        event_id = uuid.uuid4()
        starts = None if sale_starts_at is None else datetime.fromtimestamp(sale_starts_at, UTC)
        self.catalog.sale_starts[event_id] = starts
        await self.rooms.configure(event_id, settings(**changes))
        return event_id

    async def admit_everyone(self, rounds: int = 5) -> None:
        for _ in range(rounds):
            self.clock.advance(1)
            await self.rooms.admission_round()


def fan(name: str) -> Caller:
    return Caller(user_id=name, role="user")


def rooms_on_fakes(seed: int = 0) -> Rooms:
    clock = Clock()
    store = InMemoryWaitingRoomStore(clock)
    catalog = Catalog()
    source = random.Random(seed)
    rooms = WaitingRooms(
        store,
        HmacRoomTokens.from_secret("a-test-key-for-waiting-room-tokens-0123456789"),
        catalog,
        catalog,
        BookingPressure(p99_limit_seconds=1.0, clock=clock),
        recovery_seconds=60,
        clock=clock,
        random_bits=source.getrandbits,
    )
    return Rooms(rooms, store, catalog, clock)
