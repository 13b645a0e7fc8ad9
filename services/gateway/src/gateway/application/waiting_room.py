"""Waiting rooms: turning one on for an event, fans joining and following their place, the
admission that lets them in, and the pass a booking for that event needs while the room is
on. The rules are in `domain/waiting_room.py`; the state is the store's (Redis, shared by
every gateway replica), so places outlive a restart and replicas admit as one.

Which events have a room on is kept in this process too (`RoomDirectory`), refreshed with
every admission round, so a booking for an event without a room asks nothing of Redis; a
room turned on is enforced at once by the replica that turned it on and within one
admission interval by the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from gateway.application.booking_pressure import BookingPressure
from gateway.application.sale_starts import SaleStarts
from gateway.domain.users import Caller
from gateway.domain.waiting_room import (
    SHUFFLED_SCORE_BITS,
    Gone,
    PlaceState,
    PlaceStatus,
    PlaceView,
    RoomFigures,
    RoomSettings,
    place_view,
    shuffled_score,
)
from service_kit.errors import (
    ConflictError,
    DependencyUnavailableError,
    DomainError,
    ForbiddenError,
    NotFoundError,
)

logger = logging.getLogger(__name__)


class NotAdmittedError(ForbiddenError):
    error_type = "not_admitted"


class WaitingRoomNotOpenError(ConflictError):
    error_type = "waiting_room_not_open"

    def __init__(self, opens_at: datetime) -> None:
        when = opens_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        super().__init__(
            f"The waiting room opens at {when}; join from then on", extra={"opens_at": when}
        )
        self.opens_at = opens_at


def no_waiting_room(event_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"Event {event_id} has no waiting room", error_type="no_waiting_room")


def place_not_found() -> NotFoundError:
    return NotFoundError("No such place in a waiting room", error_type="place_not_found")


# ------------------------------------------------------------------ ports


class InvalidRoomToken(Exception):
    """A place or pass token that this gateway did not sign, or that was changed."""


@dataclass(frozen=True)
class PlaceToken:
    event_id: uuid.UUID
    room_id: str
    account: str
    place_id: str


@dataclass(frozen=True)
class PassToken:
    event_id: uuid.UUID
    room_id: str
    account: str
    pass_number: int
    expires_at: int


class RoomTokens(Protocol):
    """Signed, tamper-evident tokens: a fan's place, and the admission pass."""

    def sign_place(self, place: PlaceToken) -> str: ...

    def read_place(self, token: str) -> PlaceToken:
        """InvalidRoomToken when it is not one this gateway signed."""
        ...

    def sign_pass(self, admission: PassToken) -> str: ...

    def read_pass(self, token: str) -> PassToken:
        """InvalidRoomToken when it is not one this gateway signed."""
        ...


@dataclass(frozen=True)
class Joined:
    room_id: str
    place_id: str
    new: bool


@dataclass(frozen=True)
class NotOpenYet:
    opens_at: float


JoinOutcome = Joined | NotOpenYet | None  # None: the event has no room


class AttemptOutcome(StrEnum):
    USED = "used"  # one attempt spent (or the same attempt again, by its Idempotency-Key)
    NO_ROOM = "no_room"  # the room is off: bookings need no pass
    UNKNOWN_PASS = "unknown_pass"  # noqa: S105 (not a secret): not the account's pass now
    EXPIRED = "expired"
    USED_UP = "used_up"


@dataclass(frozen=True)
class AdmissionRound:
    sale_starts_at: float | None
    tickets_left: int | None  # None: unknown, the sold-out flag stays as it is
    pressure: bool
    recovery_seconds: float


@dataclass(frozen=True)
class Admission:
    event_id: uuid.UUID
    admitted: int
    figures: RoomFigures


class WaitingRoomStore(Protocol):
    """Rooms, queues and passes, shared by every replica; each method is one atomic step.
    DependencyUnavailableError when the store cannot answer."""

    async def rooms(self) -> set[uuid.UUID]:
        """The events with a room on."""
        ...

    async def configure(
        self, event_id: uuid.UUID, settings: RoomSettings, new_room_id: str
    ) -> tuple[RoomFigures, bool]:
        """Turn the room on (`new_room_id` names it) or change its settings; True if new."""
        ...

    async def close(self, event_id: uuid.UUID) -> bool:
        """Turn the room off, forgetting its places; False if there was none."""
        ...

    async def set_paused(self, event_id: uuid.UUID, paused: bool) -> RoomFigures | None: ...

    async def figures(self, event_id: uuid.UUID) -> RoomFigures | None: ...

    async def join(
        self,
        event_id: uuid.UUID,
        account: str,
        *,
        sale_starts_at: float | None,
        place_id: str,
        shuffled_score: float,
    ) -> JoinOutcome:
        """The account's place: the one it holds (waiting, or admitted with a live pass), or
        a new one, scored by the store's clock against `sale_starts_at`."""
        ...

    async def place(
        self, event_id: uuid.UUID, account: str, place_id: str
    ) -> tuple[RoomFigures | None, PlaceStatus]: ...

    async def admit(self, event_id: uuid.UUID, admission: AdmissionRound) -> Admission | None:
        """One admission step of the room (None: no room)."""
        ...

    async def use_attempt(
        self,
        event_id: uuid.UUID,
        room_id: str,
        account: str,
        pass_number: int,
        idempotency_key: str | None,
    ) -> AttemptOutcome: ...


class StockLevels(Protocol):
    async def stock(self, event_id: uuid.UUID) -> Mapping[str, int] | None:
        """Tickets left (holds counted) per ticket type; None when unknown."""
        ...


# ------------------------------------------------------------------ in this process


class RoomDirectory:
    """The events with a room on, as last read from the store (None: not read yet)."""

    def __init__(self) -> None:
        self._events: frozenset[uuid.UUID] | None = None

    def replace(self, events: set[uuid.UUID]) -> None:
        self._events = frozenset(events)

    def add(self, event_id: uuid.UUID) -> None:
        self._events = (self._events or frozenset()) | {event_id}

    def discard(self, event_id: uuid.UUID) -> None:
        if self._events is not None:
            self._events = self._events - {event_id}

    @property
    def events(self) -> frozenset[uuid.UUID]:
        return self._events or frozenset()

    def has_room(self, event_id: uuid.UUID) -> bool:
        if self._events is None:
            # Fail closed: until the rooms are known, any booking might need a pass.
            raise DependencyUnavailableError(
                "Bookings are unavailable for a moment; try again", retry_after_seconds=1
            )
        return event_id in self._events


# ------------------------------------------------------------------ the use cases


@dataclass(frozen=True)
class RoomReport:
    """The console's view of a room."""

    event_id: uuid.UUID
    figures: RoomFigures
    sale_starts_at: datetime | None
    seconds_to_clear: int | None


@dataclass(frozen=True)
class PlaceAnswer:
    event_id: uuid.UUID
    view: PlaceView
    sale_starts_at: datetime | None
    pass_token: str | None


@dataclass(frozen=True)
class JoinedPlace:
    token: str
    new: bool
    answer: PlaceAnswer


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


class WaitingRooms:
    def __init__(
        self,
        store: WaitingRoomStore,
        tokens: RoomTokens,
        sale_starts: SaleStarts,
        stock: StockLevels,
        pressure: BookingPressure,
        *,
        recovery_seconds: float,
        clock: Callable[[], float] = time.time,
        random_bits: Callable[[int], int] = secrets.randbits,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._sale_starts = sale_starts
        self._stock = stock
        self.pressure = pressure
        self.directory = RoomDirectory()
        self._recovery_seconds = recovery_seconds
        self._clock = clock
        self._random_bits = random_bits

    # Managers and admins

    async def configure(
        self, event_id: uuid.UUID, settings: RoomSettings
    ) -> tuple[RoomReport, bool]:
        sale_starts_at = await self._sale_starts.sale_starts_at(event_id)  # 404: no such event
        figures, created = await self._store.configure(event_id, settings, secrets.token_hex(8))
        self.directory.add(event_id)
        return self._report(event_id, figures, sale_starts_at), created

    async def close(self, event_id: uuid.UUID) -> None:
        if not await self._store.close(event_id):
            raise no_waiting_room(event_id)
        self.directory.discard(event_id)

    async def set_paused(self, event_id: uuid.UUID, paused: bool) -> RoomReport:
        figures = await self._store.set_paused(event_id, paused)
        if figures is None:
            raise no_waiting_room(event_id)
        return self._report(event_id, figures, await self._sale_start_or_none(event_id))

    async def report(self, event_id: uuid.UUID) -> RoomReport:
        figures = await self._store.figures(event_id)
        if figures is None:
            raise no_waiting_room(event_id)
        return self._report(event_id, figures, await self._sale_start_or_none(event_id))

    def _report(
        self, event_id: uuid.UUID, figures: RoomFigures, sale_starts_at: datetime | None
    ) -> RoomReport:
        to_clear = figures.seconds_to_clear(self._clock(), _epoch(sale_starts_at))
        return RoomReport(event_id, figures, sale_starts_at, to_clear)

    async def _sale_start_or_none(self, event_id: uuid.UUID) -> datetime | None:
        try:
            return await self._sale_starts.sale_starts_at(event_id)
        except DomainError:
            return None  # the console still shows the room's own figures

    # Fans

    async def join(self, caller: Caller, event_id: uuid.UUID) -> JoinedPlace:
        sale_starts_at = await self._sale_starts.sale_starts_at(event_id)
        outcome = await self._store.join(
            event_id,
            caller.user_id,
            sale_starts_at=_epoch(sale_starts_at),
            place_id=secrets.token_urlsafe(12),
            shuffled_score=shuffled_score(self._random_bits(SHUFFLED_SCORE_BITS)),
        )
        if outcome is None:
            raise no_waiting_room(event_id)
        if isinstance(outcome, NotOpenYet):
            raise WaitingRoomNotOpenError(datetime.fromtimestamp(outcome.opens_at, UTC))
        place = PlaceToken(event_id, outcome.room_id, caller.user_id, outcome.place_id)
        answer = await self._answer(place, sale_starts_at)
        return JoinedPlace(self._tokens.sign_place(place), outcome.new, answer)

    async def place(self, place_token: str, account: str) -> PlaceAnswer:
        """The place behind the token, for the account that holds it (anyone else: 404)."""
        try:
            place = self._tokens.read_place(place_token)
        except InvalidRoomToken:
            raise place_not_found() from None
        if place.account != account:
            raise place_not_found()
        try:
            sale_starts_at = await self._sale_starts.sale_starts_at(place.event_id)
        except NotFoundError:
            sale_starts_at = None
        return await self._answer(place, sale_starts_at)

    async def _answer(self, place: PlaceToken, sale_starts_at: datetime | None) -> PlaceAnswer:
        figures, status = await self._store.place(place.event_id, place.account, place.place_id)
        if figures is not None and figures.room_id != place.room_id:
            status = Gone()  # a room turned off and on again: a place of the old one
        view = place_view(figures, status, now=self._clock(), sale_starts_at=_epoch(sale_starts_at))
        pass_token = None
        if view.state is PlaceState.ADMITTED and view.pass_number and view.pass_expires_at:
            pass_token = self._tokens.sign_pass(
                PassToken(
                    place.event_id,
                    place.room_id,
                    place.account,
                    view.pass_number,
                    math.floor(view.pass_expires_at),
                )
            )
        return PlaceAnswer(place.event_id, view, sale_starts_at, pass_token)

    async def place_changes(
        self,
        place_token: str,
        account: str,
        *,
        first: PlaceAnswer,
        interval_seconds: float,
        max_duration_seconds: float,
    ) -> AsyncIterator[PlaceAnswer]:
        """`first`, then each change of the place, until it is final or the time bound."""
        deadline = time.monotonic() + max_duration_seconds
        last = first
        yield last
        final = {PlaceState.EXPIRED, PlaceState.CLOSED}
        while last.view.state not in final and time.monotonic() < deadline:
            await asyncio.sleep(interval_seconds)
            try:
                current = await self.place(place_token, account)
            except DependencyUnavailableError:
                continue  # a blip: the place is still there, ask again
            if current != last:
                last = current
                yield current

    # Bookings

    async def check_booking(
        self,
        caller: Caller,
        event_id: uuid.UUID,
        pass_token: str | None,
        idempotency_key: str | None,
    ) -> None:
        """Nothing for an event without a room on (no store call); else the caller's pass
        must be valid, live and have an attempt left, and this booking uses one."""
        if not self.directory.has_room(event_id):
            return
        if pass_token is None:
            raise NotAdmittedError(
                f"Event {event_id} has a waiting room: join it and send the admission pass "
                "it gives you in the X-Admission-Pass header"
            )
        try:
            admission = self._tokens.read_pass(pass_token)
        except InvalidRoomToken:
            raise NotAdmittedError("The admission pass is not valid") from None
        if admission.event_id != event_id:
            raise NotAdmittedError("The admission pass is for another event")
        if admission.account != caller.user_id:
            raise NotAdmittedError("The admission pass belongs to another account")
        if admission.expires_at <= self._clock():
            raise NotAdmittedError("The admission pass has expired; join the waiting room again")
        outcome = await self._store.use_attempt(
            event_id, admission.room_id, caller.user_id, admission.pass_number, idempotency_key
        )
        if outcome in (AttemptOutcome.USED, AttemptOutcome.NO_ROOM):
            return
        raise NotAdmittedError(
            {
                AttemptOutcome.UNKNOWN_PASS: "The admission pass is no longer valid",
                AttemptOutcome.EXPIRED: "The admission pass has expired; join the waiting room "
                "again",
                AttemptOutcome.USED_UP: "The admission pass has no booking attempts left",
            }[outcome]
        )

    def booking_answered(self, seconds: float, *, unavailable: bool) -> None:
        self.pressure.record(seconds, unavailable=unavailable)

    # Admission

    async def refresh_directory(self) -> None:
        self.directory.replace(await self._store.rooms())

    async def admission_round(self) -> list[Admission]:
        """One admission step for every room on; a room whose sale start cannot be read
        admits nobody this round (it might not have started)."""
        try:
            await self.refresh_directory()
        except DependencyUnavailableError:
            logger.warning("waiting rooms: the store is unavailable; admission waits")
            return []
        pressure = self.pressure.under_pressure()
        admitted: list[Admission] = []
        for event_id in sorted(self.directory.events):
            try:
                sale_starts_at = await self._sale_starts.sale_starts_at(event_id)
            except DomainError as error:
                logger.warning("waiting room %s: sale start unknown (%s)", event_id, error.detail)
                continue
            stock = await self._stock.stock(event_id)
            tickets_left = None if not stock else sum(max(0, left) for left in stock.values())
            round_ = AdmissionRound(
                _epoch(sale_starts_at), tickets_left, pressure, self._recovery_seconds
            )
            try:
                admission = await self._store.admit(event_id, round_)
            except DependencyUnavailableError:
                logger.warning("waiting rooms: the store is unavailable; admission waits")
                return admitted
            if admission is not None:
                admitted.append(admission)
        return admitted
