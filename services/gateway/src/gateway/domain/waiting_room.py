"""A waiting room in front of an on-sale: in what order fans go in, how many and how fast,
how long a fan will wait, and what a fan's place says. Pure rules: the stores apply them
atomically (`adapters/waiting_room_store.py` in one Redis script per decision).

**Order.** Each place has a score; admission takes the lowest scores first.

- A fan who joins *before the sale starts* gets a score drawn uniformly from [0, 1) by a
  cryptographic random source (`shuffled_score`), whatever the moment they join.
- A fan who joins *after the start* gets `1 + n`, n counting the room's arrivals since the
  start (`arrival_score`): behind every fan who joined before, in arrival order.

Why that is a uniform shuffle at the start: nobody is admitted before the start, so when
admission begins the fans who joined before it are ranked by their scores alone. Those are
independent draws from one distribution, drawn without looking at when a fan joined or
at anyone else's score: the draws are exchangeable, so each of the n! orders of n fans is
equally likely (ties between two 52-bit draws have probability below n² / 2⁵³, and are
broken by account id). Joining early buys a place in the draw, not a better rank, and
joining again gives the same place (one place per account), so a fan cannot draw twice.

**Admission budget** (a token bucket per room): the budget grows by the effective rate per
elapsed second, up to `BURST_SECONDS` of it; each admission spends one. So over any
interval, admissions never exceed the rate times its length plus one burst, however many
gateway replicas run the admission. Fans admitted at once never exceed the room's cap, nor
the tickets left: a fan let in beyond the stock could only be refused.

**Adaptive rate.** The effective rate is the configured one times a factor in
[`MIN_RATE_FACTOR`, 1]: halved (at most once per `CUT_INTERVAL_SECONDS`) while the booking
path says it is under pressure, grown back linearly to 1 over the room's recovery time
otherwise (additive increase, multiplicative decrease, as TCP does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

SHUFFLED_SCORE_BITS = 52
_SHUFFLED_SCORE_SCALE = float(1 << SHUFFLED_SCORE_BITS)
BURST_SECONDS = 2.0
MIN_RATE_FACTOR = 1 / 32
CUT_INTERVAL_SECONDS = 1.0
# How often a fan is asked to poll: near the front often, far back rarely (20,000 fans
# polling every second would be 20,000 requests a second for nothing).
MIN_POLL_SECONDS = 2
MAX_POLL_SECONDS = 30


def shuffled_score(random_bits: int) -> float:
    """The score of a place taken before the start: `random_bits` (52 uniformly random bits)
    as a number in [0, 1), exactly representable as a double (Redis sorted set scores)."""
    if not 0 <= random_bits < 1 << SHUFFLED_SCORE_BITS:
        raise ValueError(f"random_bits must be {SHUFFLED_SCORE_BITS} bits")
    return random_bits / _SHUFFLED_SCORE_SCALE


def arrival_score(arrival_number: int) -> float:
    """The score of the `arrival_number`th place taken after the start (from 1): after every
    shuffled score, in arrival order."""
    return 1.0 + arrival_number


def is_shuffled(score: float) -> bool:
    return score < 1.0


def place_score(
    *, joined_at: float, sale_starts_at: float | None, random_bits: int, arrival_number: int
) -> float:
    """The score of a place taken at `joined_at` (epoch seconds); `sale_starts_at` None: the
    sale has started. `arrival_number` is only used (and only counted) after the start."""
    if sale_starts_at is not None and joined_at < sale_starts_at:
        return shuffled_score(random_bits)
    return arrival_score(arrival_number)


@dataclass(frozen=True)
class RoomSettings:
    """What an admin or manager sets for an event's room."""

    opens_at: datetime | None  # fans may join from then on; None: at once
    admission_per_minute: int
    max_admitted_at_once: int
    session_minutes: int
    booking_attempts_per_pass: int

    @property
    def session_seconds(self) -> int:
        return self.session_minutes * 60


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated_at: float


def burst_size(rate_per_minute: float) -> float:
    return max(1.0, rate_per_minute * BURST_SECONDS / 60)


def refilled(bucket: Bucket, now: float, rate_per_minute: float) -> Bucket:
    elapsed = max(0.0, now - bucket.updated_at)
    tokens = min(burst_size(rate_per_minute), bucket.tokens + elapsed * rate_per_minute / 60)
    return Bucket(tokens, now)


def admission_cap(max_admitted_at_once: int, tickets_left: int | None) -> int:
    """Fans who may be admitted at once: the room's cap, and never more than tickets left."""
    if tickets_left is None:
        return max_admitted_at_once
    return max(0, min(max_admitted_at_once, tickets_left))


def admissions(bucket: Bucket, *, waiting: int, admitted_now: int, cap: int) -> int:
    """How many of the waiting fans go in now (the bucket already refilled)."""
    return max(0, min(math.floor(bucket.tokens), cap - admitted_now, waiting))


@dataclass(frozen=True)
class RateFactor:
    value: float
    updated_at: float
    cut_at: float


def adapted(
    factor: RateFactor, now: float, *, pressure: bool, recovery_seconds: float
) -> RateFactor:
    if pressure:
        if now - factor.cut_at < CUT_INTERVAL_SECONDS:
            return RateFactor(factor.value, now, factor.cut_at)
        return RateFactor(max(MIN_RATE_FACTOR, factor.value / 2), now, now)
    grown = factor.value + max(0.0, now - factor.updated_at) / recovery_seconds
    return RateFactor(min(1.0, grown), now, factor.cut_at)


def throughput_per_minute(
    effective_rate_per_minute: float, *, admitted_now: int, cap: int, session_minutes: int
) -> float:
    """Fans expected to go in per minute from now. While the room is full a place frees up
    when a session ends, so at worst `cap` per session length: the estimate assumes that."""
    if admitted_now >= cap:
        return min(effective_rate_per_minute, cap / session_minutes)
    return effective_rate_per_minute


def estimated_wait_seconds(
    ahead: float, *, throughput_per_minute: float, seconds_to_start: float
) -> int | None:
    """Seconds until a fan with `ahead` fans before them goes in, if the current throughput
    holds; None when nobody goes in at the moment (paused, sold out)."""
    if throughput_per_minute <= 0:
        return None
    return math.ceil(max(0.0, seconds_to_start) + ahead * 60 / throughput_per_minute)


def poll_after_seconds(estimated_wait: int | None) -> int:
    """When to poll again: a tenth of the wait, between the bounds."""
    if estimated_wait is None:
        return MAX_POLL_SECONDS
    return max(MIN_POLL_SECONDS, min(MAX_POLL_SECONDS, estimated_wait // 10))


# ------------------------------------------------------------------ a place's state


class PlaceState(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    # The pass's session ended or its booking attempts are used: join again to queue anew.
    EXPIRED = "expired"
    SOLD_OUT = "sold_out"
    # The room was turned off (bookings need no pass), or this place was replaced by a newer
    # one of the same account.
    CLOSED = "closed"


@dataclass(frozen=True)
class RoomFigures:
    """A room as the store reads it at one moment."""

    room_id: str
    settings: RoomSettings
    paused: bool
    sold_out: bool
    tickets_left: int | None
    rate_factor: float
    waiting: int
    # Waiting fans who joined before the start (their order is drawn at the start).
    shuffled_waiting: int
    admitted_now: int
    admitted_total: int

    @property
    def effective_rate_per_minute(self) -> float:
        return self.settings.admission_per_minute * self.rate_factor

    @property
    def cap_now(self) -> int:
        return admission_cap(self.settings.max_admitted_at_once, self.tickets_left)

    def throughput_per_minute(self) -> float:
        if self.paused or self.sold_out:
            return 0.0
        return throughput_per_minute(
            self.effective_rate_per_minute,
            admitted_now=self.admitted_now,
            cap=self.cap_now,
            session_minutes=self.settings.session_minutes,
        )

    def seconds_to_clear(self, now: float, sale_starts_at: float | None) -> int | None:
        """How long until everyone waiting now is in, if the throughput holds."""
        return estimated_wait_seconds(
            self.waiting,
            throughput_per_minute=self.throughput_per_minute(),
            seconds_to_start=_seconds_to_start(now, sale_starts_at),
        )


@dataclass(frozen=True)
class Waiting:
    rank: int  # 0: next to go in
    shuffled: bool


@dataclass(frozen=True)
class Admitted:
    pass_number: int
    expires_at: float
    attempts_left: int


@dataclass(frozen=True)
class Gone:
    """Not waiting and never admitted under this place: replaced, or the room is gone."""


PlaceStatus = Waiting | Admitted | Gone


@dataclass(frozen=True)
class PlaceView:
    state: PlaceState
    position: int | None  # 1: next to go in; None before the start for a shuffled place
    ahead: int | None
    estimated_wait_seconds: int | None
    tickets_left: int | None
    order_decided_at_start: bool
    paused: bool
    pass_number: int | None = None
    pass_expires_at: float | None = None
    attempts_left: int | None = None

    @property
    def poll_after_seconds(self) -> int:
        if self.state is PlaceState.WAITING:
            return poll_after_seconds(self.estimated_wait_seconds)
        return MAX_POLL_SECONDS


def _seconds_to_start(now: float, sale_starts_at: float | None) -> float:
    return 0.0 if sale_starts_at is None else max(0.0, sale_starts_at - now)


def place_view(
    room: RoomFigures | None, status: PlaceStatus, *, now: float, sale_starts_at: float | None
) -> PlaceView:
    if room is None or isinstance(status, Gone):
        return PlaceView(PlaceState.CLOSED, None, None, None, None, False, False)
    if isinstance(status, Admitted):
        live = status.expires_at > now and status.attempts_left > 0
        return PlaceView(
            PlaceState.ADMITTED if live else PlaceState.EXPIRED,
            None,
            None,
            0 if live else None,
            room.tickets_left,
            False,
            room.paused,
            pass_number=status.pass_number if live else None,
            pass_expires_at=status.expires_at if live else None,
            attempts_left=status.attempts_left if live else 0,
        )
    started = _seconds_to_start(now, sale_starts_at) == 0
    hidden = status.shuffled and not started
    # Before the start a shuffled place's rank is not told (it would say how the draw went
    # so far, not where the fan will be): it is a uniformly random one among the shuffled.
    ahead = (room.shuffled_waiting - 1) / 2 if hidden else status.rank
    wait = estimated_wait_seconds(
        ahead,
        throughput_per_minute=room.throughput_per_minute(),
        seconds_to_start=_seconds_to_start(now, sale_starts_at),
    )
    return PlaceView(
        PlaceState.SOLD_OUT if room.sold_out else PlaceState.WAITING,
        None if hidden else status.rank + 1,
        None if hidden else status.rank,
        None if room.sold_out else wait,
        room.tickets_left,
        hidden,
        room.paused,
    )
